# test_apache.py — clone-jobs under a real Apache (Debian's apache2) in all three modes apache-site renders:
# mod_proxy_fcgi to the pool, mod_fcgid, plain CGI (mod_cgid); gateway = worker, so the worker keeps API Gateway's
# promises itself. In each mode: every route, the gateway rows, chunked bodies, encoded-slash IDs, large bodies,
# pages across processes, and the Postman collection through newman.
import json
import os
import subprocess
import threading
import time
import uuid

import pytest

from apache_stack import MODES, ApacheStack
from gateway_stack import ENDPOINT, SRC, WORK
from test_newman import COLLECTION, ENVIRONMENT, EXPECTED_REQUESTS, NEWMAN, failure_lines

CORS_ALLOW_HEADERS = "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token,If-Match"


@pytest.fixture(scope="module", params=MODES)
def apache(request):
    if not ENDPOINT:
        pytest.fail("CLONE_JOBS_TEST_ENDPOINT is not set: run the suite through tests/run")
    if not os.access("/usr/sbin/apache2", os.X_OK):
        pytest.fail("apache2 is missing: run scripts/install-deps")
    a = ApacheStack(request.param)
    try:
        a.start()
        yield a
    finally:
        a.stop()
        problems = a.problems()
        a.cleanup()
    assert not problems, f"{a.mode}: sanitizer reports:\n" + "\n".join(problems[:20])


def gateway_error(r, status, message, error_type):
    assert r.status == status and r.json() == {"message": message}, r
    assert r.header("x-amzn-errortype") == error_type, r.headers
    assert r.header("access-control-allow-origin") == "*", "a browser must be able to read the error"
    assert r.header("x-amzn-requestid"), r.headers


# -- every route ---------------------------------------------------------------------------------------
def test_every_route(apache):
    k = apache.keys["alice"]
    r = apache.request("GET", "/health", key=k)
    assert r.status == 200 and r.json() == {"status": "ok"} and r.header("content-type") == "application/json"
    cid = "ap-" + uuid.uuid4().hex[:8]
    # Part 1
    r = apache.request("POST", "/clone", {"cloneID": cid, "status": "new", "n": 1}, key=k)
    assert r.status == 200 and r.json()["Operation"] == "SAVE", r
    r = apache.request("GET", f"/clone?cloneID={cid}", key=k)
    assert r.status == 200 and r.json()["n"] == 1, r
    # A status no other test uses, so the listing below is this test's item alone, in any order of tests.
    done = "done-" + cid
    r = apache.request("PATCH", "/clone", {"cloneID": cid, "updateKey": "status", "updateValue": done}, key=k)
    assert r.status == 200 and r.json()["UpdatedAttributes"] == {"Attributes": {"status": done}}, r
    r = apache.request("GET", f"/clones?status={done}", key=k)
    assert r.status == 200 and [c["cloneID"] for c in r.json()["clones"]] == [cid], r
    r = apache.request("DELETE", "/clone", {"cloneID": cid}, key=k)
    assert r.status == 200 and r.json()["Operation"] == "DELETE", r
    r = apache.request("GET", f"/clone?cloneID={cid}", key=k)
    assert r.status == 404 and r.json() == {"Message": f"cloneID: {cid} not found"}, r
    # Part 2
    r = apache.request("POST", "/clones", {"status": "new"}, key=k)
    assert r.status == 201 and r.header("etag") == '"1"', r
    rid = r.json()["cloneID"]
    assert r.header("location") == f"{apache.stage}/clones/{rid}"
    r = apache.request("GET", f"/clones/{rid}", key=k)
    assert r.status == 200 and r.json()["status"] == "new", r
    r = apache.request("PUT", f"/clones/{rid}", {"status": "replaced"}, key=k, headers={"If-Match": '"1"'})
    assert r.status == 200 and r.header("etag") == '"2"', r
    r = apache.request("PATCH", f"/clones/{rid}", {"extra": {"a": 1}}, key=k,
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 200 and r.json()["extra"] == {"a": 1} and r.json()["status"] == "replaced", r
    r = apache.request("DELETE", f"/clones/{rid}", key=k, headers={"If-Match": '"1"'})
    assert r.status == 412, r
    r = apache.request("DELETE", f"/clones/{rid}", key=k)
    assert r.status == 204 and r.body == b"", r
    assert apache.request("GET", f"/clones/{rid}", key=k).status == 404


def test_pages_follow_across_processes(apache):
    """cursor_secret is shared: a cursor made by one process (under CGI, every request is one) works on any."""
    k = apache.keys["alice"]
    mark = uuid.uuid4().hex[:8]
    made = set()
    for i in range(4):
        r = apache.request("PUT", f"/clones/page-{mark}-{i}", {"status": f"page-{mark}"}, key=k)
        assert r.status == 201, r
        made.add(f"page-{mark}-{i}")
    seen, cursor = [], None
    for _ in range(20):
        r = apache.request("GET", f"/clones?status=page-{mark}&limit=1" + (f"&cursor={cursor}" if cursor else ""),
                           key=k)
        assert r.status == 200, r
        seen += [c["cloneID"] for c in r.json()["clones"]]
        cursor = r.json().get("nextCursor")
        if not cursor:
            break
    assert sorted(seen) == sorted(made)


# -- the gateway's rows ---------------------------------------------------------------------------------
def test_no_key_a_wrong_key_and_two_keys_are_403_forbidden(apache):
    gateway_error(apache.request("GET", "/clones"), 403, "Forbidden", "ForbiddenException")
    gateway_error(apache.request("GET", "/clones", key="x" * 40), 403, "Forbidden", "ForbiddenException")
    gateway_error(apache.request("GET", "/clones", key=apache.keys["alice"].upper()), 403, "Forbidden",
                  "ForbiddenException")
    # Two x-api-key headers, the right one among them (Apache joins them into one value: no key either).
    k = apache.keys["alice"]
    status, data = apache.raw_request(
        f"GET {apache.stage}/health HTTP/1.1\r\nHost: localhost\r\nx-api-key: {k}\r\nx-api-key: {k}\r\n"
        "Connection: close\r\n\r\n".encode())
    assert status == 403 and b'{"message":"Forbidden"}' in data, data[:500]
    # A header cannot claim a client or quota: the worker ignores such parameters in this mode.
    gateway_error(apache.request("GET", "/clones", headers={"Clone-Jobs-Client": "alice"}), 403, "Forbidden",
                  "ForbiddenException")


def test_unknown_route_is_403_missing_authentication_token_before_the_key(apache):
    for key in (None, apache.keys["alice"]):
        for method, path in (("GET", "/nothing-here"), ("PUT", "/clone"), ("GET", "/clones/a/b/c")):
            gateway_error(apache.request(method, path, key=key), 403, "Missing Authentication Token",
                          "MissingAuthenticationTokenException")
        # Outside the stage.
        gateway_error(apache.request("GET", "/health", key=key, raw_path=True), 403, "Missing Authentication Token",
                      "MissingAuthenticationTokenException")


def test_preflight_needs_no_key(apache):
    r = apache.request("OPTIONS", "/clones/any-id", headers={"Origin": "https://app.example",
                                                             "Access-Control-Request-Method": "PUT"})
    assert r.status == 200, r
    assert r.header("access-control-allow-methods") == "GET,PUT,PATCH,DELETE,OPTIONS"
    assert r.header("access-control-allow-headers") == CORS_ALLOW_HEADERS
    assert r.header("access-control-allow-origin") == "*"


def test_a_revoked_key_is_refused_at_once_without_a_restart(apache):
    k = apache.keys["revoked-later"]
    assert apache.request("GET", "/health", key=k).status == 200
    apache.admin("revoke-key", "revoked-later")
    gateway_error(apache.request("GET", "/health", key=k), 403, "Forbidden", "ForbiddenException")
    # A key added now works at once too.
    fresh = apache.add_key("added-" + uuid.uuid4().hex[:6], "standard")
    assert apache.request("GET", "/health", key=fresh).status == 200


def test_burst_then_429_counted_across_every_process(apache):
    """Plan tiny: 1 r/s, burst 3. Ten requests at once, each possibly in another process (CGI: always): at most
    4 plus one per second elapsed are served, the rest get API Gateway's 429."""
    k = apache.keys["tiny-client"]
    results = [None] * 10
    started = time.monotonic()

    def one(i):
        results[i] = apache.request("GET", "/health", key=k)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    elapsed = time.monotonic() - started
    served = [r for r in results if r is not None and r.status == 200]
    limited = [r for r in results if r is not None and r.status == 429]
    assert len(served) + len(limited) == 10, results
    assert 1 <= len(served) <= 4 + int(elapsed), (len(served), elapsed)
    gateway_error(limited[0], 429, "Too Many Requests", "TooManyRequestsException")


def test_quota_is_429_limit_exceeded(apache):
    k = apache.keys["quota-client"]
    statuses = [apache.request("GET", "/health", key=k).status for _ in range(5)]
    assert statuses == [200] * 5, statuses
    gateway_error(apache.request("GET", "/health", key=k), 429, "Limit Exceeded", "LimitExceededException")


# -- bodies and IDs -------------------------------------------------------------------------------------
def test_chunked_bodies_are_read(apache):
    k = apache.keys["alice"]
    body = json.dumps({"status": "chunked", "text": "x" * 5000}).encode()
    r = apache.request("POST", "/clones", body, key=k, chunked=True, headers={"Content-Type": "application/json"})
    assert r.status == 201 and r.json()["text"] == "x" * 5000, r
    cid = r.json()["cloneID"]
    r = apache.request("PATCH", "/clone", json.dumps({"cloneID": cid, "updateKey": "status",
                                                      "updateValue": "done"}).encode(),
                       key=k, chunked=True, headers={"Content-Type": "application/json"})
    assert r.status == 200, r
    # Over max_body_bytes without a length: API Gateway's 413, not a truncated item.
    big = b'{"a":"' + b"y" * (10 * 1024 * 1024) + b'"}'
    r = apache.request("PUT", "/clones/too-big-chunked", big, key=k, chunked=True)
    gateway_error(r, 413, "Request Too Long", "RequestTooLongException")
    assert apache.request("GET", "/clones/too-big-chunked", key=k).status == 404


def test_large_bodies(apache):
    """200 KB passes (mod_fcgid's default FcgidMaxRequestLen would make it a 500); 11 MB is API Gateway's 413."""
    k = apache.keys["alice"]
    r = apache.request("PUT", "/clones/large-200k", {"blob": "z" * 200000}, key=k)
    assert r.status in (200, 201) and len(r.json()["blob"]) == 200000, r
    r = apache.request("PUT", "/clones/large-11m", {"blob": "z" * (11 * 1024 * 1024)}, key=k)
    gateway_error(r, 413, "Request Too Long", "RequestTooLongException")


def test_encoded_slash_ids(apache):
    k = apache.keys["alice"]
    for cid, path in (("a/b", "a%2Fb"), ("x/y/z", "x%2Fy%2Fz"), ("50% off", "50%25%20off"), ("é/ü", "%C3%A9%2F%C3%BC")):
        r = apache.request("PUT", f"/clones/{path}", {"v": 1}, key=k)
        assert r.status in (200, 201) and r.json()["cloneID"] == cid, (cid, r)
        r = apache.request("GET", f"/clones/{path}?unused=1", key=k)
        assert r.status == 200 and r.json()["cloneID"] == cid, (cid, r)
        r = apache.request("GET", "/clone?cloneID=" + path, key=k)
        assert r.status == 200 and r.json()["cloneID"] == cid, (cid, r)
        assert apache.request("DELETE", f"/clones/{path}", key=k).status == 204


# -- logs ------------------------------------------------------------------------------------------------
def test_log_lines_go_to_log_file_and_never_hold_a_key(apache):
    k = apache.keys["alice"]
    rid = "log-" + uuid.uuid4().hex
    assert apache.request("GET", "/health", key=k, headers={"X-Amzn-RequestId": rid}).status == 200
    lines = [json.loads(line) for line in apache.worker_log().splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("requestId") == rid]
    assert len(mine) == 1 and mine[0]["client"] == "alice" and mine[0]["status"] == 200, mine
    text = apache.worker_log()
    for key in apache.keys.values():
        assert key not in text


# -- the Postman collection -------------------------------------------------------------------------------
def test_the_postman_collection_runs_clean(apache):
    assert os.access(NEWMAN, os.X_OK), f"{NEWMAN} missing: run scripts/install-deps"
    key = apache.add_key("newman-" + uuid.uuid4().hex[:6], "standard")
    report_file = os.path.join(WORK, f"newman-apache-{apache.mode}-{uuid.uuid4().hex[:8]}.json")
    argv = [NEWMAN, "run", COLLECTION, "-e", ENVIRONMENT, "--env-var", f"baseUrl={apache.base_url}",
            "--env-var", f"apiKey={key}", "--insecure", "--timeout-request", "20000", "--timeout", "170000",
            "--reporters", "cli,json", "--reporter-json-export", report_file, "--color", "off"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=SRC)
    output = r.stdout + r.stderr
    assert os.path.exists(report_file), f"newman wrote no report (exit {r.returncode}):\n{output}"
    with open(report_file) as fh:
        report = json.load(fh)
    failures = failure_lines(report)
    assert not failures, f"{apache.mode}: failed in newman:\n" + "\n".join(failures) + "\n\n" + output[-3000:]
    stats = report["run"]["stats"]
    assert stats["requests"]["total"] == EXPECTED_REQUESTS and stats["requests"]["failed"] == 0, stats
    assert stats["assertions"]["failed"] == 0 and stats["assertions"]["total"] > 100, stats
    assert r.returncode == 0, output[-3000:]
