# apache_stack.py — a real Apache (Debian's apache2, mod_proxy_fcgi / mod_fcgid / mod_cgid) on loopback serving
# clone-jobs with gateway = worker, from a virtual host rendered by `clone-jobs-admin apache-site`.
# Its own ServerRoot, config, logs and ports under a temporary folder; never the system's /etc/apache2 or port 80.
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import uuid

from gateway_stack import BUILD, ENDPOINT, SRC, WORK, free_port, wait_until

APACHE = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
MODES = ("proxy-fcgi", "fcgid", "cgi")
# Plans: generous; tiny (the burst test); a daily quota of 5.
PLANS = {
    "standard": ["--rate", "1000", "--burst", "1000"],
    "tiny": ["--rate", "1", "--burst", "3"],
    "daily5": ["--rate", "100", "--burst", "100", "--quota", "5", "--period", "DAY"],
}
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer",
                     "ThreadSanitizer")
APACHE_USER = "www-data"


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class ApacheStack:
    """One Apache serving clone-jobs in one mode, with its own key store, tables, state and logs."""

    def __init__(self, mode):
        assert mode in MODES
        self.mode = mode
        self.root = os.geteuid() == 0
        # Apache's children run as www-data when started as root: everything they read must be reachable by that
        # user, as on a real server (this is the "file and socket permissions" caveat, tested for real).
        self.dir = tempfile.mkdtemp(prefix=f"clone-jobs-apache-{mode}-")
        os.chmod(self.dir, 0o755)
        self.keys_dir = os.path.join(self.dir, "keys")
        self.state_dir = os.path.join(self.dir, "state")
        self.logs = os.path.join(self.dir, "logs")
        self.run_dir = os.path.join(self.dir, "run")
        for d in (self.state_dir, self.logs, self.run_dir, os.path.join(self.run_dir, "fcgid")):
            os.makedirs(d)
        self.config = os.path.join(self.dir, "clone-jobs.conf")
        self.credentials = os.path.join(self.dir, "aws-credentials")
        self.socket = os.path.join(self.run_dir, "fcgi.sock")
        # A copy of the program in a folder Apache's user can reach (the build tree may be private).
        self.program = os.path.join(self.dir, "clone-jobs-fcgi")
        self.table = "ap-" + uuid.uuid4().hex[:10]
        self.stage = "/prod"
        self.port = None
        self.httpd = None
        self.pool = None
        self.keys = {}
        self.ssl_context = ssl.create_default_context()
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE

    # -- set-up ------------------------------------------------------------------------------------
    def admin(self, *args, check=True):
        argv = [os.path.join(BUILD, "clone-jobs-admin"), "--config", self.config] + list(args)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"clone-jobs-admin {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r

    def add_key(self, name, plan):
        out = self.admin("add-key", name, "--plan", plan).stdout
        keys = [line for line in out.split() if re.fullmatch(r"[A-Za-z0-9_-]{40}", line)]
        assert len(keys) == 1, out
        self.keys[name] = keys[0]
        return keys[0]

    def _give_to_apache(self, path, mode):
        os.chmod(path, mode)
        if self.root:
            pw = pwd.getpwnam(APACHE_USER)
            os.chown(path, pw.pw_uid if os.path.isdir(path) else 0, pw.pw_gid)

    def start(self):
        shutil.copy2(os.path.join(BUILD, "clone-jobs-fcgi"), self.program)
        os.chmod(self.program, 0o755)
        with open(self.credentials, "w") as fh:
            fh.write(f"[default]\naws_access_key_id = {os.environ['AWS_ACCESS_KEY_ID']}\n"
                     f"aws_secret_access_key = {os.environ['AWS_SECRET_ACCESS_KEY']}\n")
        with open(self.config, "w") as fh:
            fh.write(f"# written by tests/integration/apache_stack.py ({self.mode})\n"
                     "gateway = worker\n"
                     f"table = {self.table}\n"
                     f"usage_table = {self.table}-usage\n"
                     f"endpoint = {ENDPOINT}\n"
                     "region = us-east-1\n"
                     f"stage = {self.stage}\n"
                     f"cursor_secret = {uuid.uuid4().hex}\n"
                     f"keys_dir = {self.keys_dir}\n"
                     f"keys_group = {APACHE_USER if self.root else '-'}\n"
                     f"state_dir = {self.state_dir}\n"
                     f"log_file = {self.logs}/worker.log\n"
                     f"fastcgi_socket = {self.socket}\n"
                     "integration_timeout_s = 10\n"
                     "server_name = localhost\n"
                     "log_level = info\n")
        # What the README tells an admin to do: the workers' user reads the configuration and credentials
        # (0640, its group), writes state_dir and the log; clone-jobs-admin gives it keys.tsv (keys_group).
        self._give_to_apache(self.config, 0o640)
        self._give_to_apache(self.credentials, 0o640)
        self._give_to_apache(self.state_dir, 0o755)
        self._give_to_apache(self.logs, 0o755)
        self._give_to_apache(os.path.join(self.run_dir, "fcgid"), 0o755)
        self.admin("create-table")
        for plan, args in PLANS.items():
            self.admin("add-plan", plan, *args)
        for name, plan in (("alice", "standard"), ("tiny-client", "tiny"), ("quota-client", "daily5"),
                           ("revoked-later", "standard")):
            self.add_key(name, plan)
        self.cert, self.cert_key = os.path.join(self.dir, "cert.pem"), os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", self.cert_key, "-out", self.cert,
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True, timeout=30)
        if self.mode == "proxy-fcgi":
            self.start_pool()
        # Apache cannot be handed a bound socket: a port found free may be taken before it binds, so a start
        # that fails is tried again on another port.
        for attempt in range(1, 6):
            self.port = free_port()
            self.render()
            self.httpd = subprocess.Popen([APACHE, "-f", self.httpd_conf, "-d", self.dir, "-DFOREGROUND"],
                                          stdout=subprocess.DEVNULL,
                                          stderr=open(os.path.join(self.logs, "apache-stderr.log"), "a"))
            if wait_until(lambda: self.httpd.poll() is not None or self._answers(), 30) and self.httpd.poll() is None:
                return
            if self.httpd.poll() is None:
                raise RuntimeError(f"Apache ({self.mode}) did not answer; see {self.logs}")
            self.httpd.wait()
            if attempt == 5:
                raise RuntimeError(f"Apache ({self.mode}) exited at start on 5 ports; see {self.logs}")

    def start_pool(self, workers=2):
        """The supervised pool on a socket Apache's user may connect to (-M 0660, its group), as the unit does."""
        env = {k: v for k, v in os.environ.items() if k != "HOME" and not k.startswith("AWS_")}
        env["AWS_SHARED_CREDENTIALS_FILE"] = self.credentials
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        owner = ["-U", APACHE_USER, "-G", APACHE_USER, "-u", APACHE_USER, "-g", APACHE_USER] if self.root else []
        self.pool = subprocess.Popen(["spawn-fcgi", "-n", "-s", self.socket, "-M", "0660"] + owner +
                                     ["--", self.program, "--config", self.config, "--workers", str(workers)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.logs, "pool-stderr.log"), "a"), env=env)
        if not wait_until(lambda: os.path.exists(self.socket) and self.worker_log_has("worker started"), 20):
            raise RuntimeError("the pool did not start; see " + self.logs)

    def render(self):
        site = os.path.join(self.dir, "site.conf")
        self.admin("apache-site", "--mode", self.mode,
                   "--template", os.path.join(SRC, "apache", f"clone-jobs-{self.mode}.conf.in"),
                   "--listen", f"127.0.0.1:{self.port}", "--cert", self.cert, "--cert-key", self.cert_key,
                   "--program", self.program, "--aws-credentials-file", self.credentials, "--log-dir", self.logs,
                   "--output", site)
        self.httpd_conf = os.path.join(self.dir, "httpd.conf")
        modules = ["mpm_event", "authz_core", "alias", "env", "mime", "headers", "ssl", "socache_shmcb",
                   {"proxy-fcgi": "proxy", "fcgid": "fcgid", "cgi": "cgid"}[self.mode]]
        if self.mode == "proxy-fcgi":
            modules.append("proxy_fcgi")
        lines = [f"# written by tests/integration/apache_stack.py: Apache for clone-jobs ({self.mode})",
                 f"ServerRoot {self.dir}", f"PidFile {self.run_dir}/httpd.pid", f"DefaultRuntimeDir {self.run_dir}",
                 f"ErrorLog {self.logs}/error.log", "LogLevel warn", "ServerName localhost",
                 f"Mutex file:{self.run_dir} default", "StartServers 1", "ServerLimit 2", "ThreadsPerChild 16",
                 "MaxRequestWorkers 32",
                 'LogFormat "%h %l %u %t \\"%r\\" %>s %b" combined']
        if self.root:
            lines += [f"User {APACHE_USER}", f"Group {APACHE_USER}"]
        lines += [f"LoadModule {m}_module {MODULES}/mod_{m}.so" for m in modules]
        lines.append("TypesConfig /etc/mime.types")
        if self.mode == "cgi":
            lines.append(f"ScriptSock {self.run_dir}/cgid.sock")
        if self.mode == "fcgid":
            lines += [f"FcgidIPCDir {self.run_dir}/fcgid", f"FcgidProcessTableFile {self.run_dir}/fcgid/shm"]
        # Sanitizer builds: the processes Apache starts get the suite's sanitizer options (they inherit nothing).
        for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"):
            if os.environ.get(name):
                lines.append(f'{"FcgidInitialEnv" if self.mode == "fcgid" else "SetEnv"} {name} "{os.environ[name]}"')
        lines += [f"SSLSessionCache shmcb:{self.run_dir}/ssl_scache(512000)", f"Include {site}"]
        with open(self.httpd_conf, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        r = subprocess.run([APACHE, "-f", self.httpd_conf, "-d", self.dir, "-t"], capture_output=True, text=True,
                           timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"apache2 -t: {r.stdout}{r.stderr}")

    def _answers(self):
        try:
            return self.request("GET", "/health", key=self.keys["alice"], timeout=5).status == 200
        except OSError:
            return False

    # -- client ------------------------------------------------------------------------------------
    @property
    def base_url(self):
        return f"https://127.0.0.1:{self.port}{self.stage}"

    def request(self, method, path, body=None, key=None, headers=None, raw_path=False, timeout=35, chunked=False):
        h = dict(headers or {})
        if key is not None:
            h["x-api-key"] = key
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ssl_context, timeout=timeout)
        try:
            if chunked:
                # Pieces of the body in a generator: http.client sends them with Transfer-Encoding: chunked.
                pieces = [body[i:i + 7] for i in range(0, len(body), 7)]
                conn.request(method, path if raw_path else self.stage + path, body=iter(pieces), headers=h,
                             encode_chunked=True)
            else:
                conn.request(method, path if raw_path else self.stage + path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def raw_request(self, head):
        """Send request bytes as they are (for what http.client will not send: repeated headers)."""
        with self.ssl_context.wrap_socket(__import__("socket").create_connection(("127.0.0.1", self.port), 10)) as s:
            s.sendall(head)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        status = int(data.split(b" ", 2)[1])
        return status, data

    # -- inspection --------------------------------------------------------------------------------
    def worker_log(self):
        try:
            with open(os.path.join(self.logs, "worker.log"), errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    def worker_log_has(self, text):
        return text in self.worker_log()

    def problems(self):
        """Sanitizer reports anywhere in the logs."""
        found = []
        for name in sorted(os.listdir(self.logs)):
            with open(os.path.join(self.logs, name), errors="replace") as fh:
                found += [f"{name}: {line}" for line in fh if any(m in line for m in SANITIZER_MARKERS)]
        return found

    # -- tear-down ---------------------------------------------------------------------------------
    def stop(self):
        for proc in (self.httpd, self.pool):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        # mod_fcgid's and mod_cgid's children end with Apache; wait for their log lines to settle.
        wait_until(lambda: not self._own_processes(), 10)

    def _own_processes(self):
        mine = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    if self.dir.encode() in fh.read():
                        mine.append(int(pid))
            except OSError:
                pass
        return mine

    def cleanup(self):
        """Remove the folder (it lives outside the suite's private one, for Apache's user to reach); its logs are
        kept in the suite's folder, which tests/run keeps when anything failed."""
        shutil.copytree(self.logs, os.path.join(WORK, f"apache-{self.mode}-logs-{uuid.uuid4().hex[:6]}"),
                        dirs_exist_ok=True)
        shutil.rmtree(self.dir, ignore_errors=True)
