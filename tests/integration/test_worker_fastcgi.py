# test_worker_fastcgi.py — the FastCGI life of a worker outside nginx, through cgi-fcgi: a request over the
# protocol, SIGTERM during a request (it is finished, then the worker exits) and SIGTERM while idle.
import os
import signal
import subprocess
import time

from conftest import SANITIZER_MARKERS, new_id, parse_cgi_output

EXIT_TIMEOUT_S = 10


class OneWorker:
    def __init__(self, stack, name):
        self.stack = stack
        self.socket = os.path.join(stack.dir, f"{name}.sock")
        self.pidfile = os.path.join(stack.dir, f"{name}.pid")
        self.log = os.path.join(stack.dir, f"{name}.log")
        subprocess.run(["spawn-fcgi", "-s", self.socket, "-M", "0600", "-F", "1", "-P", self.pidfile, "--",
                        stack.fcgi, "--config", stack.config, "--log-file", self.log],
                       check=True, capture_output=True, timeout=30)
        with open(self.pidfile) as f:
            self.pid = int(f.read().split()[0])

    def alive(self):
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                return f.read().split(")")[-1].split()[0] != "Z"
        except OSError:
            return False

    def request(self, method, uri, body=b""):
        env = {k: v for k, v in os.environ.items() if k in ("PATH",)}
        path, _, query = uri.partition("?")
        env.update({"REQUEST_METHOD": method, "REQUEST_URI": uri, "QUERY_STRING": query,
                    "CONTENT_LENGTH": str(len(body))})
        return subprocess.Popen(["cgi-fcgi", "-bind", "-connect", self.socket], env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def wait_exit(self):
        end = time.monotonic() + EXIT_TIMEOUT_S
        while self.alive() and time.monotonic() < end:
            time.sleep(0.05)
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            raise AssertionError("the worker did not exit after SIGTERM")

    def wait_started(self):
        end = time.monotonic() + EXIT_TIMEOUT_S
        while "worker started" not in self.log_text():
            assert time.monotonic() < end, "the worker did not start"
            time.sleep(0.05)

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()


def test_request_over_fastcgi_protocol(stack):
    w = OneWorker(stack, "fcgi-plain")
    try:
        cid = new_id()
        p = w.request("POST", "/clones", b'{"cloneID":"%s"}' % cid.encode())
        out, _ = p.communicate(b'{"cloneID":"%s"}' % cid.encode(), timeout=30)
        r = parse_cgi_output(out)
        assert r.status == 201 and r.json()["cloneID"] == cid
        p = w.request("GET", "/clones/" + cid)
        out, _ = p.communicate(b"", timeout=30)
        assert parse_cgi_output(out).status == 200
    finally:
        os.kill(w.pid, signal.SIGTERM)
        w.wait_exit()
    assert not [x for x in w.log_text().splitlines() if any(m in x for m in SANITIZER_MARKERS)]


def test_sigterm_finishes_the_current_request(stack):
    w = OneWorker(stack, "fcgi-term")
    cid = new_id()
    stack.request("POST", "/clones", {"cloneID": cid})
    stack.fault("delay", 1, delay_ms=1500)
    p = w.request("GET", "/clones/" + cid)
    p.stdin.close()
    # Once the proxy has taken the fault, the worker is waiting on the delayed DynamoDB answer.
    end = time.monotonic() + EXIT_TIMEOUT_S
    while stack.proxy("GET", "/__proxy/stats")["faults_left"] != 0:
        assert time.monotonic() < end, "the request never reached DynamoDB"
        time.sleep(0.02)
    time.sleep(0.1)
    os.kill(w.pid, signal.SIGTERM)
    out = p.stdout.read()
    p.wait(timeout=30)
    r = parse_cgi_output(out)
    assert r.status == 200 and r.json()["cloneID"] == cid, "the request under way was answered in full"
    w.wait_exit()
    log = w.log_text()
    assert "worker stopping after 1 requests (signal)" in log, log
    assert not [x for x in log.splitlines() if any(m in x for m in SANITIZER_MARKERS)], log


def test_sigterm_while_idle(stack):
    w = OneWorker(stack, "fcgi-idle")
    w.wait_started()
    started = time.monotonic()
    os.kill(w.pid, signal.SIGTERM)
    w.wait_exit()
    assert time.monotonic() - started < 5
    assert "worker stopping after 0 requests (signal)" in w.log_text()
