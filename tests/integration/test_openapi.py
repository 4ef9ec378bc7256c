# test_openapi.py — `clone-jobs-fcgi --openapi`: a valid OpenAPI 3.0 document (checked by the pinned swagger-cli from
# npm) that holds every route of the table and every status and header the contract promises for it.
import json
import os
import subprocess

import pytest

SRC = os.environ.get("CLONE_JOBS_SRC_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("CLONE_JOBS_BUILD_DIR", os.path.join(SRC, "build", "dev"))
WORK = os.environ.get("CLONE_JOBS_TEST_WORK_DIR", "/tmp")
FCGI = os.path.join(BUILD, "clone-jobs-fcgi")
SWAGGER_CLI = os.path.join(SRC, "tools", "openapi", "node_modules", ".bin", "swagger-cli")

# The contract's outcomes per route (../shared/contract.md: the route tables and "Errors from the service itself").
CONTRACT = {
    ("GET", "/health"): {200},
    ("GET", "/clone"): {200, 400, 404},
    ("GET", "/clones"): {200, 400},
    ("POST", "/clone"): {200, 400},
    ("PATCH", "/clone"): {200, 400, 404},
    ("DELETE", "/clone"): {200, 404},
    ("POST", "/clones"): {201, 409},
    ("GET", "/clones/{cloneID}"): {200, 404},
    ("PUT", "/clones/{cloneID}"): {200, 201, 412},
    ("PATCH", "/clones/{cloneID}"): {200, 404, 412},
    ("DELETE", "/clones/{cloneID}"): {204, 404, 412},
}
# The gateway's answers (any route) and DynamoDB throttled or unreachable (any route that reads or writes).
EVERY_ROUTE = {403, 413, 429, 502, 504, 503}


def openapi(stage=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLONE_JOBS_")}
    if stage is not None:
        env["CLONE_JOBS_STAGE"] = stage
    r = subprocess.run([FCGI, "--config", "/dev/null", "--openapi"], capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def doc():
    return json.loads(openapi())


def resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        parts = node["$ref"].lstrip("#/").split("/")
        node = doc
        for p in parts:
            node = node[p]
    return node


def validate(path):
    assert os.access(SWAGGER_CLI, os.X_OK), f"{SWAGGER_CLI} missing: run scripts/install-deps"
    return subprocess.run([SWAGGER_CLI, "validate", path], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("stage", [None, "/prod"])
def test_the_document_is_valid_openapi(stage):
    path = os.path.join(WORK, f"openapi-{(stage or 'none').strip('/')}.json")
    with open(path, "w") as fh:
        fh.write(openapi(stage))
    r = validate(path)
    assert r.returncode == 0 and "is valid" in r.stdout, r.stdout + r.stderr


def test_the_validator_does_refuse_a_broken_document(doc, tmp_path):
    """The check above can fail: a response without its description is not OpenAPI."""
    broken = json.loads(json.dumps(doc))
    del broken["components"]["responses"]["NotFound"]["description"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    assert validate(str(path)).returncode != 0


def test_the_built_document_is_the_programs(doc):
    """make builds openapi.json (which make install ships) from the program itself."""
    with open(os.path.join(BUILD, "openapi.json")) as fh:
        assert json.load(fh) == doc


def test_every_route_and_every_contract_status_is_in_it(doc):
    routes = json.loads(subprocess.run([FCGI, "--routes"], capture_output=True, text=True, check=True).stdout)
    assert {(r["method"], r["path"]) for r in routes} == set(CONTRACT), "the contract table above is out of date"
    for r in routes:
        op = doc["paths"][r["path"]][r["method"].lower()]
        statuses = {int(s) for s in op["responses"]}
        missing = (CONTRACT[(r["method"], r["path"])] | EVERY_ROUTE) - statuses
        assert not missing, (r, missing)
        assert op["operationId"] and op["summary"]
    for path in {r["path"] for r in routes}:
        pre = doc["paths"][path]["options"]
        assert pre["security"] == [], "the CORS preflight needs no key"


def test_the_api_key_the_bodies_and_the_headers(doc):
    assert doc["components"]["securitySchemes"]["apiKey"] == {
        **doc["components"]["securitySchemes"]["apiKey"], "type": "apiKey", "in": "header", "name": "x-api-key"}
    assert doc["security"] == [{"apiKey": []}]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, answer in op["responses"].items():
                answer = resolve(doc, answer)
                headers = answer.get("headers", {})
                assert "x-amzn-RequestId" in headers, (method, path, status)
                if status == "503":
                    assert "Retry-After" in headers, (method, path)
                if status == "201":
                    assert {"Location", "ETag"} <= set(headers), (method, path)
                if status in ("403", "413", "429"):
                    assert "x-amzn-ErrorType" in headers, (method, path, status)
                if status != "204" and method != "options":
                    assert "application/json" in answer["content"], (method, path, status)
    item = doc["paths"]["/clones/{cloneID}"]
    for method in ("get", "put", "patch"):
        assert "ETag" in resolve(doc, item[method]["responses"]["200"])["headers"], method
    for method in ("put", "patch", "delete"):
        names = [resolve(doc, p)["name"] for p in item[method]["parameters"]]
        assert "If-Match" in names and "cloneID" in names, (method, names)
    assert "application/merge-patch+json" in item["patch"]["requestBody"]["content"]
    body = resolve(doc, doc["paths"]["/clone"]["patch"]["requestBody"]["content"]["application/json"]["schema"])
    assert set(body["required"]) == {"cloneID", "updateKey", "updateValue"}
    listing = [resolve(doc, p)["name"] for p in doc["paths"]["/clones"]["get"]["parameters"]]
    assert listing == ["limit", "cursor", "status"]


def test_the_stage_is_in_the_server_url():
    assert json.loads(openapi())["servers"][0]["url"] == "https://{host}"
    assert json.loads(openapi("/prod"))["servers"][0]["url"] == "https://{host}/prod"
