# gateway_stack.py — the whole gateway for tests, on loopback: TLS nginx rendered from the route table,
# keys and plans made with clone-jobs-admin, the supervised worker pool, and fresh tables in the shared dynalite.
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import http.client
import uuid

import pytest

SRC = os.environ.get("CLONE_JOBS_SRC_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("CLONE_JOBS_BUILD_DIR", os.path.join(SRC, "build", "dev"))
WORK = os.environ.get("CLONE_JOBS_TEST_WORK_DIR", "/tmp")
ENDPOINT = os.environ.get("CLONE_JOBS_TEST_ENDPOINT", "")
# The gateway's configured public name: the only host its https redirect may name.
SERVER_NAME = "api.clone-jobs.test"
# nginx's njs module (Debian: libnginx-mod-http-js), which the gateway's key check needs.
NJS_MODULE = "/usr/lib/nginx/modules/ngx_http_js_module.so"

# Plans every gateway test can use: generous, tiny (to see throttling), and one with a daily quota.
PLANS = {
    "standard": ["--rate", "1000", "--burst", "1000"],
    "tiny": ["--rate", "1", "--burst", "3"],
    "small": ["--rate", "2", "--burst", "6"],
    "daily5": ["--rate", "100", "--burst", "100", "--quota", "5", "--period", "DAY"],
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, seconds, step=0.05):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name.lower())


class Gateway:
    """One running gateway; every test module that needs it shares the session's instance."""

    def __init__(self, stage="/prod", extra_config=None, host="127.0.0.1"):
        self.host = host  # the loopback address nginx listens on (test_fleet.py: 127.0.0.2 to .4)
        self.dir = os.path.join(WORK, "gateway-" + uuid.uuid4().hex[:8])
        self.keys_dir = os.path.join(self.dir, "keys")
        self.logs = os.path.join(self.dir, "logs")
        for d in (self.dir, self.keys_dir, self.logs, os.path.join(self.dir, "tmp")):
            os.makedirs(d, exist_ok=True)
        self.stage = stage
        # Configuration lines after the defaults below (a later line wins): {"integration_timeout_s": "29"}.
        self.extra_config = dict(extra_config or {})
        self.port = free_port()
        self.base_url = f"https://{host}:{self.port}{stage}"
        self.socket = os.path.join(self.dir, "fcgi.sock")
        self.table = "gw-" + uuid.uuid4().hex[:10]
        self.usage_table = self.table + "-usage"
        self.config = os.path.join(self.dir, "clone-jobs.conf")
        self.nginx_conf = os.path.join(self.dir, "nginx.conf")
        self.pool = None
        self.nginx = None
        self.keys = {}
        self.ssl_context = ssl.create_default_context()
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE

    # -- set-up -------------------------------------------------------------------------------
    def admin(self, *args, check=True):
        argv = [os.path.join(BUILD, "clone-jobs-admin"), "--config", self.config] + list(args)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"clone-jobs-admin {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r

    def reload_command(self):
        # Returns when the old workers are gone: from then on every connection sees the new keys.
        return (f"{os.path.join(SRC, 'scripts', 'nginx-reload')} {self.dir}/nginx.pid "
                f"-p {self.dir} -c {self.nginx_conf}")

    def start(self):
        self.write_config()
        self.seed()
        self.start_servers()

    def write_config(self):
        with open(self.config, "w") as fh:
            fh.write(
                f"table = {self.table}\n"
                f"usage_table = {self.usage_table}\n"
                f"endpoint = {ENDPOINT}\n"
                f"region = us-east-1\n"
                f"stage = {self.stage}\n"
                f"cursor_secret = {uuid.uuid4().hex}\n"
                f"keys_dir = {self.keys_dir}\n"
                f"nginx_reload_command = {self.reload_command()}\n"
                f"integration_timeout_s = 3\n"
                f"server_name = {SERVER_NAME}\n"
                f"log_level = info\n" +
                "".join(f"{k} = {v}\n" for k, v in self.extra_config.items()))

    def seed(self):
        """The tables, PLANS, and the keys every test uses."""
        self.admin("create-table")
        for plan, args in PLANS.items():
            self.admin("add-plan", plan, *args, "--no-reload")
        for name, plan in (("alice", "standard"), ("bob", "standard"), ("tiny-client", "tiny"),
                           ("small-client", "small"), ("quota-client", "daily5")):
            self.keys[name] = self.add_key(name, plan, reload=False)

    def start_servers(self, pool=True):
        """TLS nginx in front of the pool (pool False: the pool runs elsewhere, fastcgi_socket says where)."""
        cert, key = os.path.join(self.dir, "cert.pem"), os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", key, "-out", cert,
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True, timeout=30)
        self.cert = cert
        if pool:
            self.start_pool()
        # nginx cannot be handed a bound socket: a port found free may be taken before nginx binds it, so
        # an nginx that exits at start is tried again on another port (the site names the port).
        for attempt in range(1, 6):
            self.render_site(cert, key)
            self.nginx = subprocess.Popen(["nginx", "-p", self.dir, "-c", self.nginx_conf, "-g", "daemon off;"],
                                          stdout=subprocess.DEVNULL,
                                          stderr=open(os.path.join(self.logs, "nginx-stderr.log"), "a"))
            if wait_until(lambda: self._answers() or self.nginx.poll() is not None, 20) and self.nginx.poll() is None:
                return
            if self.nginx.poll() is None:
                raise RuntimeError("gateway did not come up; see " + self.logs)
            self.nginx.wait()
            if attempt == 5:
                raise RuntimeError("nginx exited at start on 5 ports; see " + self.logs)
            self.port = free_port()
            self.base_url = f"https://{self.host}:{self.port}{self.stage}"

    def render_site(self, cert, key):
        site = os.path.join(self.dir, "site.conf")
        self.admin("nginx-site", "--template", os.path.join(SRC, "nginx", "clone-jobs-site.conf.in"),
                   "--gateway-js", os.path.join(SRC, "nginx", "clone-jobs-gateway.js"),
                   "--listen", f"{self.host}:{self.port}", "--cert", cert, "--cert-key", key,
                   "--socket", self.socket, "--access-log", os.path.join(self.logs, "access.log"),
                   "--output", site)
        tmp = os.path.join(self.dir, "tmp")
        with open(self.nginx_conf, "w") as fh:
            # The test folders are private (0700): as root, nginx's workers must stay root to reach the socket.
            fh.write(
                ("user root;\n" if os.geteuid() == 0 else "") +
                f"load_module {NJS_MODULE};\n"
                "worker_processes 2;\n"
                f"pid {self.dir}/nginx.pid;\n"
                f"error_log {self.logs}/nginx-error.log warn;\n"
                "events { worker_connections 512; }\n"
                "http {\n"
                f"  client_body_temp_path {tmp}/body; fastcgi_temp_path {tmp}/fastcgi;\n"
                f"  proxy_temp_path {tmp}/proxy; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;\n"
                f"  include {site};\n"
                "}\n")

    def start_pool(self, workers=2, program=None, tcp=None):
        """spawn-fcgi and the supervised pool on the socket (program: another FastCGI program instead; tcp: (host,
        port) to listen on instead of the unix socket)."""
        env = os.environ.copy()
        self.pool_log = os.path.join(self.logs, "workers.log")
        where = ["-a", tcp[0], "-p", str(tcp[1])] if tcp else ["-s", self.socket, "-M", "0666"]
        self.pool = subprocess.Popen(
            ["spawn-fcgi", "-n"] + where + ["--"] +
            (program or [os.path.join(BUILD, "clone-jobs-fcgi"), "--config", self.config, "--workers", str(workers)]),
            stdout=subprocess.DEVNULL, stderr=open(self.pool_log, "a"), env=env)
        if program:
            if not wait_until(lambda: os.path.exists(self.socket), 20):
                raise RuntimeError("the FastCGI program did not start; see " + self.pool_log)
        elif not wait_until(lambda: len(self.worker_pids()) == workers, 20):
            raise RuntimeError("worker pool did not start; see " + self.pool_log)

    def _answers(self):
        try:
            r = self.request("GET", "/health", key=self.keys["alice"])
            return r.status == 200
        except OSError:
            return False

    def add_key(self, name, plan, reload=True):
        args = ["add-key", name, "--plan", plan]
        if not reload:
            args.append("--no-reload")
        out = self.admin(*args).stdout
        keys = [line.strip() for line in out.splitlines() if re.fullmatch(r"[A-Za-z0-9_-]{40}", line.strip())]
        assert len(keys) == 1, out
        return keys[0]

    # -- inspection ---------------------------------------------------------------------------
    def worker_pids(self):
        """The pool's live workers: children of the pool process running clone-jobs-fcgi."""
        if not self.pool or self.pool.poll() is not None:
            return []
        pids = []
        try:
            with open(f"/proc/{self.pool.pid}/task/{self.pool.pid}/children") as fh:
                for pid in fh.read().split():
                    try:
                        with open(f"/proc/{pid}/cmdline", "rb") as c, open(f"/proc/{pid}/comm") as comm:
                            # The metrics listener is a child too, under its own name.
                            if b"clone-jobs-fcgi" in c.read() and comm.read().strip() != "cj-metrics":
                                pids.append(int(pid))
                    except OSError:
                        pass
        except OSError:
            return []
        return sorted(pids)

    # -- client -------------------------------------------------------------------------------
    def connection(self, timeout=35):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ssl_context, timeout=timeout)

    def request(self, method, path, body=None, key=None, headers=None, raw_path=False, timeout=35):
        h = dict(headers or {})
        if key is not None:
            h["x-api-key"] = key
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        conn = self.connection(timeout)
        try:
            conn.request(method, path if raw_path else self.stage + path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def pool_log_text(self):
        try:
            with open(self.pool_log, errors="replace") as fh:
                return fh.read()
        except (OSError, AttributeError):
            return ""

    def pool_problems(self):
        """Sanitizer reports and worker exits other than a clean one or a test's SIGKILL, in the pool's log."""
        text = self.pool_log_text()
        reports = [l for l in text.splitlines() if "Sanitizer" in l or "runtime error:" in l]
        exits = [json.loads(l) for l in text.splitlines() if '"event":"worker_exited"' in l]
        unclean = [e for e in exits if e["detail"] not in ("exited with status 0", "killed by signal 9")]
        return reports + [json.dumps(e) for e in unclean]

    # -- tear-down ----------------------------------------------------------------------------
    def stop(self):
        for proc in (self.nginx, self.pool):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


# -- the DynamoDB proxy of tests/run (tests/tools/ddb_proxy.py) ------------------------------------------
def proxy_call(method, path, body=None):
    host, port = ENDPOINT.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None)
        r = conn.getresponse()
        data = r.read()
        assert r.status == 200, (path, r.status, data)
        return json.loads(data)
    finally:
        conn.close()


def proxy_mark():
    """The proxy's request sequence number now: proxy_log(mark) is what came after."""
    return proxy_call("GET", "/__proxy/stats")["seq"]


def proxy_log(since, tables=None):
    """The DynamoDB requests the proxy saw after mark since (only those naming one of tables, when given)."""
    entries = proxy_call("GET", f"/__proxy/log?since={since}")["entries"]
    if tables is not None:
        entries = [e for e in entries if isinstance(e["body"], dict) and e["body"].get("TableName") in tables]
    return entries


def ddb_call(operation, request):
    """One DynamoDB call straight to dynalite (signed with botocore), for what the tests read or plant."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    dynalite = os.environ["CLONE_JOBS_TEST_DYNALITE"]
    body = json.dumps(request)
    req = AWSRequest(method="POST", url=dynalite + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810." + operation})
    SigV4Auth(Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]),
              "dynamodb", os.environ.get("AWS_REGION", "us-east-1")).add_auth(req)
    host, port = dynalite.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", "/", body=body, headers=dict(req.headers))
        r = conn.getresponse()
        data = r.read()
        assert r.status == 200, f"{operation}: {r.status} {data[:300]!r}"
        return json.loads(data)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def gateway():
    if not ENDPOINT:
        pytest.fail("CLONE_JOBS_TEST_ENDPOINT is not set: run the suite through tests/run")
    gw = Gateway()
    try:
        gw.start()
        yield gw
    finally:
        gw.stop()
    # Every worker has exited now: leaks (reported at exit under ASan), undefined behaviour and unclean
    # exits of the whole session show here, whatever order the tests ran in.
    problems = gw.pool_problems()
    if problems:
        pytest.fail("the gateway's worker pool logged problems:\n" + "\n".join(problems[:20]))
