# test_worker_faults.py — DynamoDB failing underneath (faults injected by the signature-checking proxy): 503 with
# Retry-After, the deep health check, a missing table, refused credentials, and retries that succeed.
from conftest import new_id

UNAVAILABLE = {"message": "service unavailable, retry later"}


def log_line(stack, request_id):
    lines = [line for line in stack.log_lines() if line.get("requestId") == request_id]
    assert len(lines) == 1, f"{len(lines)} log lines for {request_id}"
    return lines[0]


def test_throttled_on_every_attempt_is_503_with_retry_after(stack):
    cid = new_id()
    for mode in ("throttle", "http500", "http503", "close"):
        stack.fault(mode, 1000)
        for method, path, body in (("GET", "/clones/" + cid, None), ("POST", "/clones", {"cloneID": cid}),
                                   ("GET", "/clones", None), ("PATCH", "/clone",
                                                              {"cloneID": cid, "updateKey": "a", "updateValue": 1})):
            r = stack.request(method, path, body)
            assert r.status == 503, (mode, method, path, r)
            assert r.json() == UNAVAILABLE and r.header("retry-after") == "1"
            assert r.header("access-control-allow-origin") == "*"
        stack.clear_faults()
    assert stack.request("GET", "/clones/" + cid).status == 404, "nothing was written"
    r = stack.request("GET", "/clones/" + cid)
    line = log_line(stack, r.header("x-amzn-requestid"))
    assert line["status"] == 404 and line["ddbCalls"] == 1


def test_throttle_log_line(stack):
    stack.fault("throttle", 1000)
    r = stack.request("GET", "/clones/" + new_id())
    stack.clear_faults()
    line = log_line(stack, r.header("x-amzn-requestid"))
    assert line["status"] == 503 and line["outcome"] == "throttled" and line["level"] == "warn"
    assert line["ddbCalls"] == 1 and line["ddbRetries"] == 2, line


def test_a_retried_call_succeeds(stack):
    cid = new_id()
    stack.request("POST", "/clones", {"cloneID": cid})
    stack.fault("throttle", 1)
    r = stack.request("GET", "/clones/" + cid)
    assert r.status == 200
    line = log_line(stack, r.header("x-amzn-requestid"))
    assert line["ddbRetries"] == 1 and line["ddbCalls"] == 1 and line["outcome"] == "ok"
    stack.fault("http500", 2)
    assert stack.request("GET", "/clones/" + cid).status == 200


def test_deep_health_when_dynamodb_fails(stack):
    assert stack.request("GET", "/health?deep=1").status == 200
    stack.fault("http503", 1000)
    r = stack.request("GET", "/health?deep=1")
    assert r.status == 503 and r.header("retry-after") == "1"
    body = r.json()
    assert body["status"] == "unavailable" and body["table"] == "unreachable"
    assert stack.request("GET", "/health").json() == {"status": "ok"}, "the shallow check needs no DynamoDB"
    stack.fault("throttle", 1000)
    r = stack.request("GET", "/health?deep=1")
    assert r.status == 503 and r.json()["status"] == "unavailable"
    stack.clear_faults()
    assert stack.request("GET", "/health?deep=1").json() == {"status": "ok", "table": "ACTIVE"}


def test_missing_table_is_503_logged_as_error(stack):
    env = {"CLONE_JOBS_TABLE": "clone-jobs-missing-" + new_id()}
    r, err = stack.cgi("GET", "/clones/x", env=env)
    assert r.status == 503 and r.json() == UNAVAILABLE and r.header("retry-after") == "1"
    assert '"level":"error"' in err and '"outcome":"table_missing"' in err
    r, err = stack.cgi("GET", "/health", query="deep=1", env=env)
    assert r.status == 503 and r.json()["table"] == "missing" and r.json()["status"] == "unavailable"


def test_refused_credentials_are_500(stack):
    r, err = stack.cgi("GET", "/clones/x", env={"AWS_SECRET_ACCESS_KEY": "not-the-right-secret"})
    assert r.status == 500 and r.json() == {"message": "Internal server error"}
    assert '"level":"error"' in err and '"outcome":"internal"' in err
    assert "not-the-right-secret" not in err
