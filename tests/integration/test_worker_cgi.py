# test_worker_cgi.py — the worker run as a plain CGI program (environment + stdin in, Status/headers/body out),
# the stage prefix, configuration errors, the command line, and the JSON log lines (API keys never logged).
import json
import os
import re
import subprocess

from conftest import RFC3339_MS, new_id


def test_cgi_crud(stack):
    cid = new_id()
    r, err = stack.cgi("POST", "/clones", body={"cloneID": cid, "status": "cgi"})
    assert r.status == 201 and r.header("location") == "/clones/" + cid and r.header("etag") == '"1"'
    assert r.header("content-type") == "application/json" and int(r.header("content-length")) == len(r.body)
    r, _ = stack.cgi("GET", "/clone", query="cloneID=" + cid)
    assert r.status == 200 and r.json()["status"] == "cgi"
    r, _ = stack.cgi("PATCH", "/clones/" + cid, body={"status": "done"}, headers={"If-Match": '"1"'})
    assert r.status == 200 and r.json()["status"] == "done" and r.header("etag") == '"2"'
    r, _ = stack.cgi("DELETE", "/clones/" + cid, headers={"If-Match": '"1"'})
    assert r.status == 412
    r, _ = stack.cgi("DELETE", "/clones/" + cid)
    assert r.status == 204 and r.body == b""
    # Seen through nginx and the pool too: one table, one service.
    assert stack.request("GET", "/clones/" + cid).status == 404


def test_cgi_without_request_uri_uses_path_info(stack):
    cid = new_id("a%b")
    stack.request("POST", "/clones", {"cloneID": cid})
    r, _ = stack.cgi("GET", "", request_uri=False, env={"SCRIPT_NAME": "", "PATH_INFO": "/clones/" + cid})
    assert r.status == 200 and r.json()["cloneID"] == cid


def test_cgi_unknown_route_is_the_gateway_answer(stack):
    r, err = stack.cgi("GET", "/nowhere")
    assert r.status == 403 and r.json() == {"message": "Missing Authentication Token"}
    assert r.header("x-amzn-errortype") == "MissingAuthenticationTokenException"
    assert '"outcome":"no_route"' in err
    r, err = stack.cgi("PUT", "/clones")
    assert r.status == 403 and '"outcome":"no_method"' in err
    r, _ = stack.cgi("OPTIONS", "/clones")
    assert r.status == 200 and r.header("access-control-allow-methods") == "GET,POST,OPTIONS"


def test_cgi_body_limit_before_reading(stack):
    # CONTENT_LENGTH says 20 MB; the worker answers 413 without waiting for (or reading) those bytes.
    r, _ = stack.cgi("POST", "/clones", body=b"{}", env={"CONTENT_LENGTH": str(20 * 1024 * 1024)}, timeout=20)
    assert r.status == 413 and r.json() == {"message": "Request Too Long"}
    r, _ = stack.cgi("POST", "/clones", body=b"{}", env={"CONTENT_LENGTH": "12x"})
    assert r.status == 400 and r.json() == {"message": "invalid Content-Length"}


def test_stage_prefix(stack):
    env = {"CLONE_JOBS_STAGE": "/prod"}
    r, _ = stack.cgi("GET", "/prod/health", env=env)
    assert r.status == 200 and r.json() == {"status": "ok"}
    for path in ("/health", "/prod", "/prodx/health", "/prod/"):
        r, _ = stack.cgi("GET", path, env=env)
        assert r.status == 403 and r.json() == {"message": "Missing Authentication Token"}, path
    r, _ = stack.cgi("POST", "/prod/clones", body={"a": 1}, env=env)
    assert r.status == 201
    cid = r.json()["cloneID"]
    assert r.header("location") == "/prod/clones/" + cid
    r, _ = stack.cgi("PUT", "/prod/clones/x%2Fy" + cid, body={"a": 1}, env=env)
    assert r.status == 201 and r.header("location") == "/prod/clones/x%2Fy" + cid
    r, _ = stack.cgi("GET", "/prod/clones/x%2Fy" + cid, env=env)
    assert r.status == 200 and r.json()["cloneID"] == "x/y" + cid


def test_cors_origin_from_configuration(stack):
    r, _ = stack.cgi("GET", "/health", env={"CLONE_JOBS_CORS_ORIGIN": "https://app.example"})
    assert r.header("access-control-allow-origin") == "https://app.example"


def test_request_id_and_client(stack):
    r, err = stack.cgi("GET", "/health", headers={"X-Amzn-RequestId": "from-header-1"})
    assert r.header("x-amzn-requestid") == "from-header-1"
    r, err = stack.cgi("GET", "/health", headers={"X-Amzn-RequestId": "from-header-2"},
                       env={"CLONE_JOBS_REQUEST_ID": "from-gateway", "CLONE_JOBS_CLIENT": "team-a"})
    assert r.header("x-amzn-requestid") == "from-gateway"
    line = json.loads([x for x in err.splitlines() if '"requestId"' in x][-1])
    assert line["requestId"] == "from-gateway" and line["client"] == "team-a"
    # A client's id that is not a safe token is replaced by a fresh UUID, one per request, and logged as such.
    made = set()
    for _ in range(2):
        r, err = stack.cgi("GET", "/health", headers={"X-Amzn-RequestId": "bad\"id with spaces"})
        rid = r.header("x-amzn-requestid")
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", rid or ""), rid
        line = json.loads([x for x in err.splitlines() if '"requestId"' in x][-1])
        assert line["requestId"] == rid
        made.add(rid)
    assert len(made) == 2, made


def test_log_line_fields_through_nginx(stack):
    cid = new_id()
    r = stack.request("POST", "/clones", {"cloneID": cid}, headers={"X-Api-Key": "key-" + cid})
    rid = r.header("x-amzn-requestid")
    assert len(rid) == 32, "nginx's $request_id reaches the worker"
    lines = [x for x in stack.log_lines() if x.get("requestId") == rid]
    assert len(lines) == 1
    line = lines[0]
    assert list(line)[:2] == ["time", "level"] and RFC3339_MS.match(line["time"])
    assert line["level"] == "info" and line["client"] == "-" and line["remoteAddr"] == "127.0.0.1"
    assert line["method"] == "POST" and line["path"] == "/clones" and line["status"] == 201
    assert line["outcome"] == "created" and line["ddbCalls"] == 1 and line["ddbRetries"] == 0
    assert isinstance(line["latencyMs"], int) and isinstance(line["ddbMs"], int)
    assert "request" not in line, "the request itself is only logged at debug level"
    with open(stack.worker_log) as f:
        assert "key-" + cid not in f.read(), "an API key reached the log"


def test_debug_log_drops_secrets_and_cuts_the_body(stack):
    cid = new_id()
    body = {"cloneID": cid, "blob": "z" * 6000}
    secrets = {"X-Api-Key": "apikey-SECRET-1", "Authorization": "Bearer SECRET-2", "Cookie": "s=SECRET-3",
               "X-Amz-Security-Token": "SECRET-4"}
    r, err = stack.cgi("POST", "/clones", body=body, headers=dict(secrets, **{"X-Trace": "visible"}),
                       env={"CLONE_JOBS_LOG_LEVEL": "debug"})
    assert r.status == 201
    assert "SECRET" not in err
    line = json.loads([x for x in err.splitlines() if '"requestId"' in x][-1])
    req = line["request"]
    assert req["headers"]["x-trace"] == "visible" and "x-api-key" not in req["headers"]
    assert "authorization" not in req["headers"] and "cookie" not in req["headers"]
    assert len(req["body"]) == 4096 and req["bodyTruncated"] is True
    assert req["bodyBytes"] == len(json.dumps(body))
    # Bytes that are not UTF-8 still give a valid JSON line.
    r, err = stack.cgi("POST", "/clone", body=b'{"cloneID":"\xff\xfe"}', env={"CLONE_JOBS_LOG_LEVEL": "debug"})
    assert r.status == 400
    line = json.loads([x for x in err.splitlines() if '"requestId"' in x][-1])
    assert "\ufffd" in line["request"]["body"]


def test_debug_log_shows_no_query_parameter_but_the_routes_own(stack):
    """A client may put its key in the query under any name: the debug line keeps only the parameters the
    routes read (limit, cursor, status, deep, cloneID) and shows every other one as "*"."""
    query = ("limit=2&x-api-key=SECRET-A&X-API-KEY=SECRET-B&apikey=SECRET-C&SECRET-D&=SECRET-E"
             "&status=new&Limit=SECRET-F")
    r, err = stack.cgi("GET", "/clones", query=query, env={"CLONE_JOBS_LOG_LEVEL": "debug"})
    assert r.status == 200, r.body
    assert "SECRET" not in err
    line = json.loads([x for x in err.splitlines() if '"requestId"' in x][-1])
    assert line["request"]["query"] == "limit=2&*&*&*&*&*&status=new&*"
    assert line["path"] == "/clones"
    r, err = stack.cgi("GET", "/clone", query="cloneID=abc&key=SECRET-G", env={"CLONE_JOBS_LOG_LEVEL": "debug"})
    assert r.status == 404 and "SECRET" not in err
    line = json.loads([x for x in err.splitlines() if '"requestId"' in x][-1])
    assert line["request"]["query"] == "cloneID=abc&*"


def test_log_level_warn_hides_ok_lines(stack):
    _, err = stack.cgi("GET", "/health", env={"CLONE_JOBS_LOG_LEVEL": "warn"})
    assert '"requestId"' not in err


def test_random_cursor_secret_is_warned(stack):
    r, err = stack.cgi("GET", "/health", env={"CLONE_JOBS_CURSOR_SECRET": ""})
    assert r.status == 200 and '"level":"warn"' in err and "cursor_secret" in err


def test_configuration_errors(stack):
    bad = os.path.join(stack.dir, "bad.conf")
    with open(bad, "w") as f:
        f.write("table = fine-table\n\nmystery = 1\n")
    r, err = stack.cgi("GET", "/health", env={"CLONE_JOBS_CONFIG": bad})
    assert r.status == 500 and r.json() == {"message": "Internal server error"}
    assert f"{bad}:3: unknown key mystery" in err
    r, err = stack.cgi("GET", "/health", env={"CLONE_JOBS_CONFIG": bad + ".missing"})
    assert r.status == 500 and "missing" in err
    r, err = stack.cgi("GET", "/health", env={"CLONE_JOBS_MAX_BODY_BYTES": "huge"})
    assert r.status == 500 and "CLONE_JOBS_MAX_BODY_BYTES" in err
    p = subprocess.run([stack.fcgi, "--config", bad, "--check-config"], capture_output=True, text=True)
    assert p.returncode == 2 and f"{bad}:3: unknown key mystery" in p.stderr
    p = subprocess.run([stack.fcgi, "--config", stack.config, "--check-config"], capture_output=True, text=True)
    assert p.returncode == 0 and "configuration ok" in p.stdout
    p = subprocess.run([stack.fcgi, "--bogus"], capture_output=True, text=True)
    assert p.returncode == 2
    p = subprocess.run([stack.admin, "--config", bad, "describe-table"], capture_output=True, text=True)
    assert p.returncode == 2 and f"{bad}:3" in p.stderr, "the admin tool reads the same configuration"
    p = subprocess.run([stack.admin, "--config", stack.config, "describe-table"], capture_output=True, text=True)
    assert p.returncode == 0 and stack.table in p.stdout


def test_routes_json():
    build = os.environ["CLONE_JOBS_BUILD_DIR"]
    p = subprocess.run([os.path.join(build, "clone-jobs-fcgi"), "--routes"], capture_output=True, text=True,
                       check=True)
    routes = json.loads(p.stdout)
    assert routes == [
        {"method": "GET", "path": "/health"},
        {"method": "GET", "path": "/clone"},
        {"method": "POST", "path": "/clone"},
        {"method": "PATCH", "path": "/clone"},
        {"method": "DELETE", "path": "/clone"},
        {"method": "GET", "path": "/clones"},
        {"method": "POST", "path": "/clones"},
        {"method": "GET", "path": "/clones/{cloneID}"},
        {"method": "PUT", "path": "/clones/{cloneID}"},
        {"method": "PATCH", "path": "/clones/{cloneID}"},
        {"method": "DELETE", "path": "/clones/{cloneID}"},
    ]

