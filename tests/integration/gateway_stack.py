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

    def __init__(self, stage="/prod"):
        self.dir = os.path.join(WORK, "gateway-" + uuid.uuid4().hex[:8])
        self.keys_dir = os.path.join(self.dir, "keys")
        self.logs = os.path.join(self.dir, "logs")
        for d in (self.dir, self.keys_dir, self.logs, os.path.join(self.dir, "tmp")):
            os.makedirs(d, exist_ok=True)
        self.stage = stage
        self.port = free_port()
        self.base_url = f"https://127.0.0.1:{self.port}{stage}"
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
                f"log_level = info\n")
        self.admin("create-table")
        for plan, args in PLANS.items():
            self.admin("add-plan", plan, *args, "--no-reload")
        for name, plan in (("alice", "standard"), ("bob", "standard"), ("tiny-client", "tiny"),
                           ("small-client", "small"), ("quota-client", "daily5")):
            self.keys[name] = self.add_key(name, plan, reload=False)

        cert, key = os.path.join(self.dir, "cert.pem"), os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", key, "-out", cert,
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True, timeout=30)
        site = os.path.join(self.dir, "site.conf")
        self.admin("nginx-site", "--template", os.path.join(SRC, "nginx", "clone-jobs-site.conf.in"),
                   "--listen", f"127.0.0.1:{self.port}", "--cert", cert, "--cert-key", key,
                   "--socket", self.socket, "--access-log", os.path.join(self.logs, "access.log"),
                   "--output", site)
        tmp = os.path.join(self.dir, "tmp")
        with open(self.nginx_conf, "w") as fh:
            # The test folders are private (0700): as root, nginx's workers must stay root to reach the socket.
            fh.write(
                ("user root;\n" if os.geteuid() == 0 else "") +
                "worker_processes 2;\n"
                f"pid {self.dir}/nginx.pid;\n"
                f"error_log {self.logs}/nginx-error.log warn;\n"
                "events { worker_connections 512; }\n"
                "http {\n"
                f"  client_body_temp_path {tmp}/body; fastcgi_temp_path {tmp}/fastcgi;\n"
                f"  proxy_temp_path {tmp}/proxy; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;\n"
                f"  include {site};\n"
                "}\n")
        self.start_pool()
        self.nginx = subprocess.Popen(["nginx", "-p", self.dir, "-c", self.nginx_conf, "-g", "daemon off;"],
                                      stdout=subprocess.DEVNULL,
                                      stderr=open(os.path.join(self.logs, "nginx-stderr.log"), "w"))
        if not wait_until(self._answers, 20):
            raise RuntimeError("gateway did not come up; see " + self.logs)

    def start_pool(self, workers=2):
        env = os.environ.copy()
        self.pool_log = os.path.join(self.logs, "workers.log")
        self.pool = subprocess.Popen(
            ["spawn-fcgi", "-n", "-s", self.socket, "-M", "0666", "--",
             os.path.join(BUILD, "clone-jobs-fcgi"), "--config", self.config, "--workers", str(workers)],
            stdout=subprocess.DEVNULL, stderr=open(self.pool_log, "a"), env=env)
        if not wait_until(lambda: len(self.worker_pids()) == workers, 20):
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
                        with open(f"/proc/{pid}/cmdline", "rb") as c:
                            if b"clone-jobs-fcgi" in c.read():
                                pids.append(int(pid))
                    except OSError:
                        pass
        except OSError:
            return []
        return sorted(pids)

    # -- client -------------------------------------------------------------------------------
    def connection(self, timeout=35):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ssl_context, timeout=timeout)

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
