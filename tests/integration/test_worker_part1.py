# test_worker_part1.py — routes part 1 (the tutorial's API) through nginx and the FastCGI pool: every row
# and outcome, the tutorial's exact bodies, and its failure cases now answered with a clear 4xx.
import json
from decimal import Decimal
from urllib.parse import quote

from conftest import RFC3339_MS, new_id

CORS_HEADERS = "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token,If-Match"


def check_common(r, methods):
    assert r.header("content-type") == "application/json"
    assert r.header("access-control-allow-origin") == "*"
    assert r.header("access-control-allow-headers") == CORS_HEADERS
    assert r.header("access-control-allow-methods") == methods
    assert r.header("x-amzn-requestid")


def save(stack, item):
    r = stack.request("POST", "/clone", item)
    assert r.status == 200, r
    return r


def test_health(stack):
    r = stack.request("GET", "/health")
    assert r.status == 200 and r.json() == {"status": "ok"}
    check_common(r, "GET,OPTIONS")


def test_health_deep(stack):
    r = stack.request("GET", "/health?deep=1")
    assert r.status == 200 and r.json() == {"status": "ok", "table": "ACTIVE"}
    assert stack.request("GET", "/health?deep=true").status == 200
    assert stack.request("GET", "/health?deep=0").json() == {"status": "ok"}
    r = stack.request("GET", "/health?deep=maybe")
    assert r.status == 400 and "deep" in r.json()["message"]


def test_save_and_get_exact_bodies(stack):
    cid = new_id()
    r = save(stack, {"cloneID": cid, "status": "new", "size": 3, "tags": ["a", "b"], "meta": {"x": None}})
    body = r.json()
    assert list(body) == ["Operation", "Message", "Item"]
    assert body["Operation"] == "SAVE" and body["Message"] == "SUCCESS"
    item = body["Item"]
    assert item["cloneID"] == cid and item["status"] == "new" and item["size"] == 3
    assert item["tags"] == ["a", "b"] and item["meta"] == {"x": None}
    assert item["version"] == 1 and RFC3339_MS.match(item["createdAt"]) and item["createdAt"] == item["updatedAt"]
    assert r.header("etag") == '"1"'
    check_common(r, "GET,POST,PATCH,DELETE,OPTIONS")

    r = stack.request("GET", "/clone?cloneID=" + quote(cid))
    assert r.status == 200 and r.json() == item and r.header("etag") == '"1"'
    check_common(r, "GET,POST,PATCH,DELETE,OPTIONS")


def test_save_replaces_and_keeps_created_at(stack):
    cid = new_id()
    first = save(stack, {"cloneID": cid, "a": 1, "b": 2}).json()["Item"]
    second = save(stack, {"cloneID": cid, "a": 5}).json()["Item"]
    assert "b" not in second and second["a"] == 5
    assert second["version"] == 2 and second["createdAt"] == first["createdAt"]
    assert second["updatedAt"] >= first["updatedAt"]


def test_save_ignores_client_server_fields(stack):
    cid = new_id()
    item = save(stack, {"cloneID": cid, "version": 99, "createdAt": "1999", "updatedAt": "x"}).json()["Item"]
    assert item["version"] == 1 and item["createdAt"] != "1999" and RFC3339_MS.match(item["updatedAt"])


def test_get_missing_is_404_with_capital_message(stack):
    r = stack.request("GET", "/clone?cloneID=nope-" + new_id())
    assert r.status == 404
    body = r.json()
    assert list(body) == ["Message"] and body["Message"].startswith("cloneID: nope-")
    assert body["Message"].endswith(" not found")
    check_common(r, "GET,POST,PATCH,DELETE,OPTIONS")


def test_get_without_clone_id_is_400(stack):
    for q in ("", "?other=1", "?cloneID=", "?cloneID=" + "x" * 1025):
        r = stack.request("GET", "/clone" + q)
        assert r.status == 400 and "cloneID" in r.json()["message"], (q, r)


def test_get_decodes_query(stack):
    cid = new_id("a b+c&d=é")
    save(stack, {"cloneID": cid})
    r = stack.request("GET", "/clone?cloneID=" + quote(cid, safe=""))
    assert r.status == 200 and r.json()["cloneID"] == cid
    # '+' in a query means a blank, as in every form-encoded query string.
    r = stack.request("GET", "/clone?cloneID=" + quote(cid, safe="").replace("%20", "+"))
    assert r.status == 200 and r.json()["cloneID"] == cid


def test_save_bad_requests(stack):
    cases = [
        (b"", "JSON object"),
        (b"{not json", "malformed JSON"),
        (b"[1,2]", "JSON object"),
        (b"\"text\"", "JSON object"),
        (b"null", "JSON object"),
        (b"{}", "cloneID is required"),
        (json.dumps({"cloneID": 5}).encode(), "cloneID must be a string"),
        (json.dumps({"cloneID": None}).encode(), "cloneID must be a string"),
        (json.dumps({"cloneID": ""}).encode(), "cloneID must not be empty"),
        (json.dumps({"cloneID": "x" * 1025}).encode(), "at most 1024 bytes"),
        (b'{"cloneID":"a","x":1}trailing', "malformed JSON"),
        (b'{"cloneID":"a","x":NaN}', "malformed JSON"),
    ]
    for body, message in cases:
        r = stack.request("POST", "/clone", body)
        assert r.status == 400, (body, r)
        assert message in r.json()["message"], (body, r.json())


def test_clone_id_of_1024_bytes(stack):
    cid = "é" * 512  # 1024 bytes of UTF-8
    assert save(stack, {"cloneID": cid}).json()["Item"]["cloneID"] == cid
    assert stack.request("GET", "/clone?cloneID=" + quote(cid)).status == 200


def test_update_reserved_word_status(stack):
    cid = new_id()
    save(stack, {"cloneID": cid, "status": "new"})
    r = stack.request("PATCH", "/clone", {"cloneID": cid, "updateKey": "status", "updateValue": "done"})
    assert r.status == 200
    assert r.json() == {"Operation": "UPDATE", "Message": "SUCCESS",
                        "UpdatedAttributes": {"Attributes": {"status": "done"}}}
    assert r.header("etag") == '"2"'
    item = stack.request("GET", "/clone?cloneID=" + cid).json()
    assert item["status"] == "done" and item["version"] == 2 and item["updatedAt"] >= item["createdAt"]


def test_update_other_reserved_words_and_odd_names(stack):
    cid = new_id()
    save(stack, {"cloneID": cid})
    for key in ("name", "data", "size", "a.b", "#n0", ":v0", "x y", "SET", "attribute_exists(cloneID)"):
        r = stack.request("PATCH", "/clone", {"cloneID": cid, "updateKey": key, "updateValue": [1, {"k": key}]})
        assert r.status == 200, (key, r)
        assert r.json()["UpdatedAttributes"]["Attributes"] == {key: [1, {"k": key}]}
    item = stack.request("GET", "/clone?cloneID=" + cid).json()
    assert item["a.b"] == [1, {"k": "a.b"}] and item["#n0"] == [1, {"k": "#n0"}] and item["version"] == 10


def test_update_value_types(stack):
    cid = new_id()
    save(stack, {"cloneID": cid})
    for value in (None, True, False, 0, -1.5, "", "text", [], {}, {"deep": [1, [2, {"x": None}]]}):
        r = stack.request("PATCH", "/clone", {"cloneID": cid, "updateKey": "v", "updateValue": value})
        # An empty string is a value like any other (DynamoDB takes empty non-key strings since 2020).
        assert r.status == 200, (value, r)
        assert r.json()["UpdatedAttributes"]["Attributes"] == {"v": value}
    r = stack.request("PATCH", "/clone", {"cloneID": cid, "updateKey": "n", "updateValue": 1.50})
    assert r.exact()["UpdatedAttributes"]["Attributes"]["n"] == Decimal("1.5")


def test_update_missing_item_is_404_and_creates_nothing(stack):
    cid = new_id()
    r = stack.request("PATCH", "/clone", {"cloneID": cid, "updateKey": "status", "updateValue": "x"})
    assert r.status == 404 and r.json() == {"message": f"cloneID: {cid} not found"}
    assert stack.request("GET", "/clone?cloneID=" + cid).status == 404


def test_update_bad_requests(stack):
    cid = new_id()
    save(stack, {"cloneID": cid})
    cases = [
        ({"updateKey": "a", "updateValue": 1}, "cloneID is required"),
        ({"cloneID": cid, "updateValue": 1}, "updateKey is required"),
        ({"cloneID": cid, "updateKey": "a"}, "updateValue is required"),
        ({"cloneID": cid, "updateKey": "", "updateValue": 1}, "updateKey must be a non-empty string"),
        ({"cloneID": cid, "updateKey": 7, "updateValue": 1}, "updateKey must be a non-empty string"),
        ({"cloneID": cid, "updateKey": None, "updateValue": 1}, "updateKey must be a non-empty string"),
        ({"cloneID": cid, "updateKey": "cloneID", "updateValue": "other"}, "cloneID cannot be updated"),
        ({"cloneID": cid, "updateKey": "version", "updateValue": 7}, "managed by the server"),
        ({"cloneID": cid, "updateKey": "createdAt", "updateValue": "x"}, "managed by the server"),
        ({"cloneID": cid, "updateKey": "updatedAt", "updateValue": "x"}, "managed by the server"),
        ({"cloneID": cid, "updateKey": "n", "updateValue": 1e200}, "out of DynamoDB's range"),
    ]
    for body, message in cases:
        r = stack.request("PATCH", "/clone", body)
        assert r.status == 400, (body, r)
        assert message in r.json()["message"], (body, r.json())
    r = stack.request("PATCH", "/clone", b"{bad")
    assert r.status == 400 and "malformed JSON" in r.json()["message"]
    item = stack.request("GET", "/clone?cloneID=" + cid).json()
    assert item["version"] == 1 and set(item) == {"cloneID", "createdAt", "updatedAt", "version"}


def test_update_keeps_part1_changes_visible_to_etags(stack):
    # A part-1 update bumps the version, so a part-2 If-Match write made from an older read fails.
    cid = new_id()
    save(stack, {"cloneID": cid, "a": 1})
    etag = stack.request("GET", "/clones/" + cid).header("etag")
    assert stack.request("PATCH", "/clone", {"cloneID": cid, "updateKey": "a", "updateValue": 2}).status == 200
    r = stack.request("PATCH", "/clones/" + cid, {"b": 1}, headers={"If-Match": etag})
    assert r.status == 412
    assert stack.request("GET", "/clones/" + cid).json()["a"] == 2


def test_delete(stack):
    cid = new_id()
    item = save(stack, {"cloneID": cid, "status": "x", "n": 12.5}).json()["Item"]
    r = stack.request("DELETE", "/clone", {"cloneID": cid})
    assert r.status == 200
    assert r.json() == {"Operation": "DELETE", "Message": "SUCCESS", "deletedItem": {"Attributes": item}}
    check_common(r, "GET,POST,PATCH,DELETE,OPTIONS")
    assert stack.request("GET", "/clone?cloneID=" + cid).status == 404
    r = stack.request("DELETE", "/clone", {"cloneID": cid})
    assert r.status == 404 and r.json() == {"message": f"cloneID: {cid} not found"}


def test_delete_bad_requests(stack):
    for body, message in ((b"", "JSON object"), (b"{", "malformed JSON"), (b"[]", "JSON object"),
                          (b"{}", "cloneID is required"), (b'{"cloneID":1}', "cloneID must be a string"),
                          (b'{"cloneID":""}', "cloneID must not be empty")):
        r = stack.request("DELETE", "/clone", body)
        assert r.status == 400 and message in r.json()["message"], (body, r)


def test_options_preflight(stack):
    for path, methods in (("/clone", "GET,POST,PATCH,DELETE,OPTIONS"), ("/clones", "GET,POST,OPTIONS"),
                          ("/clones/x", "GET,PUT,PATCH,DELETE,OPTIONS"), ("/health", "GET,OPTIONS")):
        r = stack.request("OPTIONS", path)
        assert r.status == 200 and r.body == b"", (path, r)
        check_common(r, methods)


def test_unknown_path_or_method_is_missing_authentication_token(stack):
    cases = [("GET", "/"), ("GET", "/nope"), ("GET", "/clones/"), ("GET", "/clone/"), ("GET", "/clones/a/b"),
             ("PUT", "/clone"), ("DELETE", "/clones"), ("POST", "/health"), ("OPTIONS", "/nope"),
             ("GET", "/prod/clones"), ("GET", "/CLONES"), ("GET", "//clones")]
    for method, path in cases:
        r = stack.request(method, path)
        assert r.status == 403, (method, path, r)
        assert r.json() == {"message": "Missing Authentication Token"}
        assert r.header("x-amzn-errortype") == "MissingAuthenticationTokenException"
        assert r.header("access-control-allow-origin") == "*"
