# test_threads.py — requests in flight follow the threads, not the processes: a store that holds every answer
# still lets a 2-process pool serve 32 requests at once; a stop or reload finishes every request under way.
import concurrent.futures
import json
import os
import signal
import subprocess
import threading
import uuid

from conftest import new_id
from gateway_stack import gateway, wait_until  # noqa: F401  (the fixture)

IN_FLIGHT = 32
# How long the test waits for the event it needs (the proxy holding IN_FLIGHT requests) before it fails: not
# a timing threshold (on a fast machine it is a few milliseconds), a bound so a broken worker cannot hang CI.
EVENT_BOUND_S = 30


def held(proxy):
    return proxy("GET", "/__proxy/stats")


def test_a_2_process_pool_holds_32_requests_in_flight(stack):
    """The proxy holds each DynamoDB call until 32 are held at once: one thread per request would need 32
    threads across the 2 processes; one request per process would stall at 2 and time out."""
    cid = new_id("inflight")
    assert stack.request("PUT", stack.item_path(cid), {"n": 1}).status == 201
    stack.clear_faults()
    stack.proxy("POST", "/__proxy/fault", {"mode": "hold", "count": IN_FLIGHT})
    with concurrent.futures.ThreadPoolExecutor(IN_FLIGHT) as pool:
        futures = [pool.submit(stack.request, "GET", stack.item_path(cid)) for _ in range(IN_FLIGHT)]
        all_held = wait_until_held(stack.proxy, IN_FLIGHT)
        stack.proxy("POST", "/__proxy/release", {})
        answers = [f.result(timeout=EVENT_BOUND_S + 10) for f in futures]
    assert all_held, f"the proxy never held {IN_FLIGHT} requests at once: {held(stack.proxy)}"
    assert [r.status for r in answers] == [200] * IN_FLIGHT
    assert all(r.json()["n"] == 1 for r in answers)


def wait_until_held(proxy, n):
    return wait_until(lambda: held(proxy)["held"] >= n, EVENT_BOUND_S)


def test_sigterm_finishes_every_request_in_flight_through_the_pool(gateway):
    """SIGHUP to the supervised pool sends SIGTERM to every worker while 8 requests are held inside them:
    each one is still answered, then the old workers exit cleanly and new ones take over."""
    key = gateway.keys["alice"]
    cid = "sigterm-" + uuid.uuid4().hex[:8]
    assert gateway.request("PUT", "/clones/" + cid, body={"n": 2}, key=key).status == 201
    proxy = _gateway_proxy()
    proxy("POST", "/__proxy/reset", {})
    proxy("POST", "/__proxy/fault", {"mode": "hold", "count": 8})
    before = gateway.worker_pids()

    def told_to_stop():
        with open(gateway.pool_log) as fh:
            lines = [json.loads(line) for line in fh if "stop signal" in line]
        return {line["pid"] for line in lines} >= set(before)
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(gateway.request, "GET", "/clones/" + cid, key=key) for _ in range(8)]
            all_held = wait_until_held(proxy, 8)
            gateway.pool.send_signal(signal.SIGHUP)
            # Every old worker has its SIGTERM, and is still there: it waits for its requests.
            stopping = wait_until(told_to_stop, EVENT_BOUND_S)
            waited = set(before) <= set(gateway.worker_pids())
            proxy("POST", "/__proxy/release", {})
            answers = [f.result(timeout=EVENT_BOUND_S + 10) for f in futures]
    finally:
        proxy("POST", "/__proxy/reset", {})
    assert all_held and stopping and waited, (held(proxy), stopping, waited)
    assert [r.status for r in answers] == [200] * 8, [(r.status, r.body) for r in answers]
    assert wait_until(lambda: not set(before) & set(gateway.worker_pids())
                      and len(gateway.worker_pids()) == len(before), EVENT_BOUND_S), "the pool was not renewed"
    def exits():
        # A worker that has exited can be gone from the pool's children before the pool reaped it and wrote
        # its line: wait for the lines themselves.
        with open(gateway.pool_log) as fh:
            lines = [json.loads(line) for line in fh if '"event":"worker_exited"' in line]
        return {e["workerPid"]: e["detail"] for e in lines if e.get("workerPid") in before}
    assert wait_until(lambda: len(exits()) == len(before), EVENT_BOUND_S), exits()
    assert set(exits().values()) == {"exited with status 0"}, exits()


def _gateway_proxy():
    import http.client
    endpoint = os.environ["CLONE_JOBS_TEST_ENDPOINT"]
    host, port = endpoint.split("//", 1)[1].split(":")

    def call(method, path, body=None):
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None)
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()
    return call


def test_threads_setting_is_checked(stack):
    """threads is 1..256 (libfcgi and curl keep descriptors per thread; FD_SETSIZE is 1024)."""
    for bad in ("0", "257", "many"):
        r = subprocess.run([stack.fcgi, "--check-config"], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, CLONE_JOBS_CONFIG=stack.config, CLONE_JOBS_THREADS=bad))
        assert r.returncode == 2 and "threads" in r.stderr, (bad, r.stderr)
    r = subprocess.run([stack.fcgi, "--check-config"], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, CLONE_JOBS_CONFIG=stack.config, CLONE_JOBS_THREADS="256"))
    assert r.returncode == 0, r.stderr


def test_reloads_under_write_traffic_fail_no_request(gateway):
    """nginx keeps FastCGI connections open to the workers (fastcgi_keep_conn): a reload must not close one
    under a POST nginx is sending (nginx cannot send a POST again). Four writers on kept connections, three
    reloads; every write answered 2xx, and every acknowledged write is in the table."""
    key = gateway.keys["bob"]
    stop = threading.Event()
    failures, written = [], []

    def writer(n):
        i = 0
        while not stop.is_set():
            cid = f"reload-{n}-{i}-" + uuid.uuid4().hex[:6]
            try:
                r = gateway.request("POST", "/clone", body={"cloneID": cid, "n": i}, key=key, timeout=20)
                (written if r.status == 200 else failures).append((cid, r.status))
            except OSError as e:
                failures.append((cid, repr(e)))
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        for _ in range(3):
            before = gateway.worker_pids()
            seen = len(written)
            assert wait_until(lambda: len(written) >= seen + 20, EVENT_BOUND_S)
            gateway.pool.send_signal(signal.SIGHUP)
            assert wait_until(lambda: not set(before) & set(gateway.worker_pids())
                              and len(gateway.worker_pids()) == len(before), EVENT_BOUND_S), "the pool was not renewed"
        seen = len(written)
        assert wait_until(lambda: len(written) >= seen + 20, EVENT_BOUND_S)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert failures == [], failures[:5]
    for cid, _ in written[::10]:
        assert gateway.request("GET", "/clone?cloneID=" + cid, key=key).status == 200, cid
