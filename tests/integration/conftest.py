# conftest.py — shared fixtures of the integration tests: a private worker stack for the test session.
# A fresh table through the signature-checking proxy, a spawn-fcgi pool of 2 workers and a loopback nginx.
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from decimal import Decimal
from urllib.parse import quote

import pytest

# Shuffled order on demand (tests/run --shuffle): see shuffle_order.py.
pytest_plugins = ["shuffle_order"]

START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 15
REQUEST_TIMEOUT_S = 60
WORKERS = 2
CURSOR_SECRET = "test-cursor-secret-0123456789abcdef"
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ERROR: UndefinedBehaviorSanitizer", "Sanitizer has encountered a fatal error",
                     "SUMMARY: AddressSanitizer", "SUMMARY: UndefinedBehaviorSanitizer", "WARNING: ThreadSanitizer",
                     "SUMMARY: ThreadSanitizer")


def _need_env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests through tests/run")
    return value


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loads_exact(body):
    """JSON with every number as an exact Decimal."""
    return json.loads(body, parse_float=Decimal, parse_int=Decimal)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lowercase name -> value (the last one when repeated)
        self.body = body

    def json(self):
        return json.loads(self.body)

    def exact(self):
        return loads_exact(self.body)

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


def parse_cgi_output(out):
    """Split a CGI program's answer (Status:, headers, blank line, body) into a Response."""
    head, sep, body = out.partition(b"\r\n\r\n")
    assert sep, f"no end of headers in CGI output: {out[:200]!r}"
    status = None
    headers = {}
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        else:
            headers[name.strip().lower()] = value.strip()
    assert status is not None, f"no Status line: {head!r}"
    return Response(status, headers, body)


class WorkerStack:
    """One table, a worker pool and an nginx passthrough, all private to this test session."""

    def __init__(self, workers=WORKERS):
        self.workers = workers
        self.build = _need_env("CLONE_JOBS_BUILD_DIR")
        self.src = _need_env("CLONE_JOBS_SRC_DIR")
        self.endpoint = _need_env("CLONE_JOBS_TEST_ENDPOINT")
        self.dynalite = _need_env("CLONE_JOBS_TEST_DYNALITE")
        work = _need_env("CLONE_JOBS_TEST_WORK_DIR")
        self.id = uuid.uuid4().hex[:10]
        self.dir = os.path.join(work, f"worker-stack-{self.id}")
        os.makedirs(os.path.join(self.dir, "nginx", "tmp"))
        self.table = f"clone-jobs-test-{self.id}"
        self.fcgi = os.path.join(self.build, "clone-jobs-fcgi")
        self.admin = os.path.join(self.build, "clone-jobs-admin")
        self.config = os.path.join(self.dir, "clone-jobs.conf")
        self.socket = os.path.join(self.dir, "clone-jobs.sock")
        self.pidfile = os.path.join(self.dir, "workers.pid")
        self.worker_log = os.path.join(self.dir, "worker.log")
        self.port = None
        self.nginx = None
        self.pids = []
        with open(self.config, "w") as f:
            f.write(f"# written by tests/integration/conftest.py\n"
                    f"table = {self.table}\n"
                    f"endpoint = {self.endpoint}\n"
                    f"region = us-east-1\n"
                    f"cursor_secret = {CURSOR_SECRET}\n"
                    # Short DynamoDB budgets so fault tests finish quickly.
                    f"ddb_connect_timeout_ms = 1000\n"
                    f"ddb_attempt_timeout_ms = 3000\n"
                    f"ddb_max_attempts = 3\n"
                    f"ddb_max_total_ms = 5000\n"
                    f"log_level = info\n")

    # --- life cycle -------------------------------------------------------------------------------
    def start(self):
        r = subprocess.run([self.admin, "--config", self.config, "create-table"], capture_output=True,
                           text=True, timeout=START_TIMEOUT_S)
        assert r.returncode == 0, f"create-table failed: {r.stdout}{r.stderr}"
        r = subprocess.run(["spawn-fcgi", "-s", self.socket, "-M", "0600", "-F", str(self.workers), "-P",
                            self.pidfile, "--", self.fcgi, "--config", self.config, "--log-file",
                            self.worker_log], capture_output=True, text=True, timeout=START_TIMEOUT_S)
        assert r.returncode == 0, f"spawn-fcgi failed: {r.stdout}{r.stderr}"
        self.pids = self.read_pids()
        assert len(self.pids) == self.workers, f"spawn-fcgi recorded {self.pids}"
        prefix = os.path.join(self.dir, "nginx")
        # nginx cannot be handed a bound socket: a port found free may be taken before nginx binds it,
        # so an nginx that exits at start is tried again on another port.
        for attempt in range(1, 6):
            self.port = free_port()
            conf = subprocess.run([os.path.join(self.src, "scripts", "nginx-passthrough"), "--prefix", prefix,
                                   "--listen", f"127.0.0.1:{self.port}", "--socket", self.socket,
                                   "--foreground"], capture_output=True, text=True, check=True).stdout
            with open(os.path.join(prefix, "nginx.conf"), "w") as f:
                f.write(conf)
            self.nginx = subprocess.Popen(["nginx", "-p", prefix, "-e", os.path.join(prefix, "error.log"),
                                           "-c", os.path.join(prefix, "nginx.conf")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            end = time.monotonic() + START_TIMEOUT_S
            while self.nginx.poll() is None:
                try:
                    if self.request("GET", "/health").status == 200:
                        return
                except OSError:
                    pass
                assert time.monotonic() < end, "the stack did not answer GET /health"
                time.sleep(0.1)
            assert attempt < 5, "nginx exited at start on 5 ports; see " + os.path.join(prefix, "error.log")

    def read_pids(self):
        with open(self.pidfile) as f:
            return [int(p) for p in f.read().split()]

    def alive_pids(self):
        alive = []
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if b"clone-jobs-fcgi" in f.read():
                        alive.append(pid)
            except OSError:
                pass
        return alive

    def stop(self):
        if self.nginx and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)
            try:
                self.nginx.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()
        for pid in self.alive_pids():
            os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + STOP_TIMEOUT_S
        while self.alive_pids() and time.monotonic() < end:
            time.sleep(0.05)
        stuck = self.alive_pids()
        for pid in stuck:
            os.kill(pid, signal.SIGKILL)
        assert not stuck, f"workers {stuck} did not stop on SIGTERM"

    def sanitizer_reports(self, path=None):
        try:
            with open(path or self.worker_log, errors="replace") as f:
                text = f.read()
        except OSError:
            return []
        return [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKERS)]

    def log_lines(self):
        """The worker log's JSON lines (sanitizer text, if any, is skipped)."""
        lines = []
        with open(self.worker_log, errors="replace") as f:
            for line in f:
                if line.startswith("{"):
                    lines.append(json.loads(line))
        return lines

    # --- HTTP through nginx -------------------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=REQUEST_TIMEOUT_S):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            return Response(r.status, hdrs, data)
        finally:
            conn.close()

    def item_path(self, clone_id):
        return "/clones/" + quote(clone_id, safe="")

    # --- the DynamoDB proxy ---------------------------------------------------------------------------
    def proxy(self, method, path, body=None):
        host, port = self.endpoint.split("//", 1)[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None)
            r = conn.getresponse()
            return json.loads(r.read())
        finally:
            conn.close()

    def fault(self, mode, count, delay_ms=0, operation=None):
        """The proxy fails the next count DynamoDB requests (of that operation only, when given) that way."""
        cmd = {"mode": mode, "count": count}
        if mode == "delay":
            cmd["delay_ms"] = delay_ms
        if operation:
            cmd["operation"] = operation
        return self.proxy("POST", "/__proxy/fault", cmd)

    def clear_faults(self):
        self.proxy("POST", "/__proxy/reset", {})

    def proxy_mark(self):
        """The proxy's request sequence number now: proxy_log(mark) is what came after."""
        return self.proxy("GET", "/__proxy/stats")["seq"]

    def proxy_log(self, since, table=None):
        """The DynamoDB requests the proxy saw after mark since (of one table when given), oldest first."""
        entries = self.proxy("GET", f"/__proxy/log?since={since}")["entries"]
        if table is not None:
            entries = [e for e in entries if isinstance(e["body"], dict) and e["body"].get("TableName") == table]
        return entries

    def scan_limit(self, limit):
        """Make the proxy forward every Scan with Limit at most limit (0: off; reset clears it too)."""
        self.proxy("POST", "/__proxy/scan_limit", {"limit": limit})

    # --- DynamoDB directly (items "other tools" wrote) ------------------------------------------------
    def ddb(self, operation, request):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        body = json.dumps(request)
        req = AWSRequest(method="POST", url=self.dynalite + "/", data=body, headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810." + operation})
        SigV4Auth(Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]),
                  "dynamodb", os.environ.get("AWS_REGION", "us-east-1")).add_auth(req)
        host, port = self.dynalite.split("//", 1)[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request("POST", "/", body=body, headers=dict(req.headers))
            r = conn.getresponse()
            data = r.read()
            assert r.status == 200, f"{operation}: {r.status} {data[:300]!r}"
            return json.loads(data)
        finally:
            conn.close()

    # --- CGI mode ----------------------------------------------------------------------------------------
    def cgi(self, method, path, query="", body=b"", headers=None, env=None, timeout=REQUEST_TIMEOUT_S,
            request_uri=True):
        """Run the worker as a CGI program; returns (Response, stderr text)."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        e = {k: v for k, v in os.environ.items()
             if k.startswith(("AWS_", "ASAN_", "UBSAN_", "LSAN_")) or k in ("PATH", "HOME")}
        e.update({"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": method, "QUERY_STRING": query,
                  "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "CLONE_JOBS_CONFIG": self.config})
        if request_uri:
            e["REQUEST_URI"] = path + ("?" + query if query else "")
        if body:
            e["CONTENT_LENGTH"] = str(len(body))
            e["CONTENT_TYPE"] = "application/json"
        for name, value in (headers or {}).items():
            e["HTTP_" + name.upper().replace("-", "_")] = value
        e.update(env or {})
        r = subprocess.run([self.fcgi], input=body, env=e, capture_output=True, timeout=timeout)
        stderr = r.stderr.decode(errors="replace")
        reports = [line for line in stderr.splitlines() if any(m in line for m in SANITIZER_MARKERS)]
        assert not reports, "sanitizer report in CGI mode:\n" + stderr
        assert r.returncode in (0, 1, 2), f"worker died in CGI mode ({r.returncode}): {stderr}"
        return parse_cgi_output(r.stdout), stderr


def stack_lifetime(stack):
    """Start the stack, hand it out, stop it; then fail on sanitizer reports or workers that did not stop."""
    try:
        stack.start()
        yield stack
    finally:
        failure = None
        try:
            stack.stop()
        except AssertionError as e:
            failure = str(e)
        reports = stack.sanitizer_reports()
        if reports:
            failure = (failure or "") + "\nsanitizer reports in " + stack.worker_log + ":\n" + "\n".join(reports[:20])
        if failure:
            pytest.fail(failure)


@pytest.fixture(scope="session")
def worker_stack():
    yield from stack_lifetime(WorkerStack())


@pytest.fixture
def stack(worker_stack):
    """The session's stack, with no DynamoDB fault left pending by an earlier test."""
    worker_stack.clear_faults()
    yield worker_stack
    worker_stack.clear_faults()


def new_id(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
