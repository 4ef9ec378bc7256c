# test_worker_part2.py — routes part 2 (the resource API) through nginx and the FastCGI pool: create with
# Location, get, replace, JSON Merge Patch, delete, ETag and If-Match, and the server-managed attributes.
import re
import time
from urllib.parse import quote

from conftest import RFC3339_MS, new_id

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def create(stack, body):
    r = stack.request("POST", "/clones", body)
    assert r.status == 201, r
    return r


def test_create_with_generated_id(stack):
    r = create(stack, {"status": "new", "n": 1})
    item = r.json()
    assert UUID4.match(item["cloneID"]), item
    assert r.header("location") == "/clones/" + item["cloneID"]
    assert r.header("etag") == '"1"'
    assert item["version"] == 1 and RFC3339_MS.match(item["createdAt"]) and item["createdAt"] == item["updatedAt"]
    assert r.header("access-control-allow-methods") == "GET,POST,OPTIONS"
    got = stack.request("GET", r.header("location"))
    assert got.status == 200 and got.json() == item and got.header("etag") == '"1"'
    ids = {create(stack, {}).json()["cloneID"] for _ in range(5)}
    assert len(ids) == 5 and item["cloneID"] not in ids


def test_create_with_given_id_and_location_encoding(stack):
    cid = new_id("a/b c?d%é")
    r = create(stack, {"cloneID": cid, "x": True})
    assert r.json()["cloneID"] == cid
    assert r.header("location") == "/clones/" + quote(cid, safe="")
    got = stack.request("GET", r.header("location"))
    assert got.status == 200 and got.json()["cloneID"] == cid


def test_create_existing_is_409(stack):
    cid = new_id()
    first = create(stack, {"cloneID": cid, "a": 1}).json()
    r = stack.request("POST", "/clones", {"cloneID": cid, "a": 2})
    assert r.status == 409 and r.json() == {"message": f"cloneID: {cid} already exists"}
    assert stack.request("GET", "/clones/" + cid).json() == first


def test_create_bad_requests(stack):
    for body, message in ((b"", "JSON object"), (b"[]", "JSON object"), (b"{x", "malformed JSON"),
                          (b'{"cloneID":1}', "must be a string"), (b'{"cloneID":null}', "must be a string"),
                          (b'{"cloneID":""}', "must not be empty"), (b'{"n":1e999}', "range")):
        r = stack.request("POST", "/clones", body)
        assert r.status == 400 and message in r.json()["message"], (body, r)


def test_create_ignores_server_fields(stack):
    item = create(stack, {"version": 7, "createdAt": "then", "updatedAt": "now"}).json()
    assert item["version"] == 1 and RFC3339_MS.match(item["createdAt"])


def test_get_missing_is_404(stack):
    cid = new_id()
    r = stack.request("GET", "/clones/" + cid)
    assert r.status == 404 and r.json() == {"message": f"cloneID: {cid} not found"}
    assert r.header("access-control-allow-methods") == "GET,PUT,PATCH,DELETE,OPTIONS"


def test_path_id_checks(stack):
    # nginx refuses some of these itself (the gateway's JSON answer to those is in test_gateway.py); the
    # worker, where nothing is in front, says what is wrong.
    for path, message in (("/clones/%zz", "malformed percent-encoding"), ("/clones/%FF%FE", "UTF-8"),
                          ("/clones/a%00b", "NUL")):
        assert stack.request("GET", path).status == 400, path
        r, _ = stack.cgi("GET", path)
        assert r.status == 400 and message in r.json()["message"], (path, r)
    r = stack.request("GET", "/clones/" + "x" * 1025)
    assert r.status == 400 and "1024" in r.json()["message"]


def test_put_creates_then_replaces(stack):
    cid = new_id()
    r = stack.request("PUT", "/clones/" + cid, {"a": 1, "b": {"c": 2}})
    assert r.status == 201, r
    assert r.header("location") == "/clones/" + cid and r.header("etag") == '"1"'
    created = r.json()
    assert created["cloneID"] == cid and created["version"] == 1
    time.sleep(0.002)
    r = stack.request("PUT", "/clones/" + cid, {"cloneID": cid, "z": "only"})
    assert r.status == 200 and r.header("etag") == '"2"'
    replaced = r.json()
    assert set(replaced) == {"cloneID", "z", "createdAt", "updatedAt", "version"}
    assert replaced["createdAt"] == created["createdAt"] and replaced["updatedAt"] > created["updatedAt"]
    assert stack.request("GET", "/clones/" + cid).json() == replaced


def test_put_cannot_change_the_key(stack):
    cid = new_id()
    stack.request("PUT", "/clones/" + cid, {"a": 1})
    for body in ({"cloneID": "other"}, {"cloneID": None}, {"cloneID": 5}):
        r = stack.request("PUT", "/clones/" + cid, body)
        assert r.status == 400 and "cloneID cannot be updated" in r.json()["message"], (body, r)
    assert stack.request("GET", "/clones/" + cid).json()["version"] == 1
    assert stack.request("GET", "/clones/other").status == 404


def test_put_if_match(stack):
    cid = new_id()
    r = stack.request("PUT", "/clones/" + cid, {"a": 1}, headers={"If-Match": "*"})
    assert r.status == 412, "If-Match on a missing item must not create it"
    assert stack.request("GET", "/clones/" + cid).status == 404
    assert stack.request("PUT", "/clones/" + cid, {"a": 1}).status == 201
    assert stack.request("PUT", "/clones/" + cid, {"a": 2}, headers={"If-Match": '"2"'}).status == 412
    r = stack.request("PUT", "/clones/" + cid, {"a": 2}, headers={"If-Match": '"1"'})
    assert r.status == 200 and r.header("etag") == '"2"'
    assert stack.request("PUT", "/clones/" + cid, {"a": 3}, headers={"If-Match": "*"}).status == 200
    r = stack.request("PUT", "/clones/" + cid, {"a": 4}, headers={"If-Match": 'W/"3"'})
    assert r.status == 200, "a weak ETag matches"
    r = stack.request("PUT", "/clones/" + cid, {"a": 5}, headers={"If-Match": '"9", "1", "4"'})
    assert r.status == 200 and r.header("etag") == '"5"', "one of several ETags matches"
    assert stack.request("PUT", "/clones/" + cid, {"a": 6}, headers={"If-Match": '"1", W/"2"'}).status == 412
    for bad in ("5", '"5', "**", '"5" "5"', "W/5"):
        r = stack.request("PUT", "/clones/" + cid, {"a": 7}, headers={"If-Match": bad})
        assert r.status == 400 and "If-Match" in r.json()["message"], (bad, r)
    assert stack.request("GET", "/clones/" + cid).json()["a"] == 5


def test_merge_patch(stack):
    cid = new_id()
    create(stack, {"cloneID": cid, "title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"},
                   "tags": ["example", "sample"], "content": "This will be unchanged"})
    # The example of RFC 7396, section 3.
    patch = {"title": "Hello!", "phoneNumber": "+01-123-456-7890", "author": {"familyName": None},
             "tags": ["example"]}
    r = stack.request("PATCH", "/clones/" + cid, patch, headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 200, r
    item = r.json()
    assert item["title"] == "Hello!" and item["author"] == {"givenName": "John"}
    assert item["tags"] == ["example"] and item["content"] == "This will be unchanged"
    assert item["phoneNumber"] == "+01-123-456-7890" and item["version"] == 2
    assert r.header("etag") == '"2"'
    # A patch object onto a non-object starts from {} and drops its own nulls.
    r = stack.request("PATCH", "/clones/" + cid, {"title": {"main": "x", "sub": None}, "content": None})
    item = r.json()
    assert item["title"] == {"main": "x"} and "content" not in item and item["version"] == 3
    assert stack.request("GET", "/clones/" + cid).json() == item


def test_merge_patch_reserved_words_and_server_fields(stack):
    cid = new_id()
    create(stack, {"cloneID": cid})
    r = stack.request("PATCH", "/clones/" + cid, {"status": "s", "name": "n", "data": {"size": 1},
                                                  "version": 100, "createdAt": "x", "updatedAt": None})
    item = r.json()
    assert r.status == 200 and item["status"] == "s" and item["name"] == "n" and item["data"] == {"size": 1}
    assert item["version"] == 2 and RFC3339_MS.match(item["createdAt"]) and RFC3339_MS.match(item["updatedAt"])


def test_merge_patch_errors(stack):
    cid = new_id()
    create(stack, {"cloneID": cid, "a": 1})
    r = stack.request("PATCH", "/clones/" + new_id(), {"a": 2})
    assert r.status == 404
    for body, message in ((b"[1]", "JSON object"), (b"\"x\"", "JSON object"), (b"null", "JSON object"),
                          (b"", "JSON object"), (b"{", "malformed JSON")):
        r = stack.request("PATCH", "/clones/" + cid, body)
        assert r.status == 400 and message in r.json()["message"], (body, r)
    for body in ({"cloneID": "other"}, {"cloneID": None}):
        r = stack.request("PATCH", "/clones/" + cid, body)
        assert r.status == 400 and "cloneID cannot be updated" in r.json()["message"]
    assert stack.request("PATCH", "/clones/" + cid, {"cloneID": cid, "b": 2}).status == 200
    r = stack.request("PATCH", "/clones/" + cid, {"n": -1e131})
    assert r.status == 400 and "range" in r.json()["message"], r
    item = stack.request("GET", "/clones/" + cid).json()
    assert item["version"] == 2 and item["b"] == 2 and "n" not in item


def test_patch_if_match(stack):
    cid = new_id()
    create(stack, {"cloneID": cid, "n": 0})
    assert stack.request("PATCH", "/clones/" + cid, {"n": 1}, headers={"If-Match": '"2"'}).status == 412
    r = stack.request("PATCH", "/clones/" + cid, {"n": 1}, headers={"If-Match": '"1"'})
    assert r.status == 200 and r.header("etag") == '"2"'
    r = stack.request("PATCH", "/clones/" + cid, {"n": 2}, headers={"If-Match": '"1"'})
    assert r.status == 412 and r.json() == {"message": "If-Match does not match the item's current ETag"}
    assert stack.request("PATCH", "/clones/" + new_id(), {"n": 1}, headers={"If-Match": "*"}).status == 404
    assert stack.request("GET", "/clones/" + cid).json()["n"] == 1


def test_delete(stack):
    cid = new_id()
    create(stack, {"cloneID": cid})
    r = stack.request("DELETE", "/clones/" + cid)
    assert r.status == 204 and r.body == b""
    assert r.header("access-control-allow-origin") == "*"
    assert stack.request("GET", "/clones/" + cid).status == 404
    r = stack.request("DELETE", "/clones/" + cid)
    assert r.status == 404 and r.json() == {"message": f"cloneID: {cid} not found"}


def test_delete_if_match(stack):
    cid = new_id()
    create(stack, {"cloneID": cid})
    stack.request("PATCH", "/clones/" + cid, {"a": 1})
    for tags in ('"1"', '"3", W/"7"', '"abc"', '"02"'):
        r = stack.request("DELETE", "/clones/" + cid, headers={"If-Match": tags})
        assert r.status == 412, (tags, r)
    assert stack.request("GET", "/clones/" + cid).status == 200
    assert stack.request("DELETE", "/clones/" + cid, headers={"If-Match": '"1", W/"2"'}).status == 204
    assert stack.request("DELETE", "/clones/" + cid, headers={"If-Match": '"2"'}).status == 404
    cid2 = new_id()
    create(stack, {"cloneID": cid2})
    assert stack.request("DELETE", "/clones/" + cid2, headers={"If-Match": "*"}).status == 204
    assert stack.request("DELETE", "/clones/" + cid2, headers={"If-Match": "*"}).status == 404


def test_items_from_other_tools_get_versions(stack):
    # An item written without the server's attributes: ETag "0", and the first write stamps it.
    cid = new_id()
    stack.ddb("PutItem", {"TableName": stack.table, "Item": {"cloneID": {"S": cid}, "a": {"N": "1"}}})
    r = stack.request("GET", "/clones/" + cid)
    assert r.status == 200 and r.header("etag") == '"0"' and r.json() == {"cloneID": cid, "a": 1}
    assert stack.request("PATCH", "/clones/" + cid, {"b": 2}, headers={"If-Match": '"1"'}).status == 412
    r = stack.request("PATCH", "/clones/" + cid, {"b": 2}, headers={"If-Match": '"0"'})
    assert r.status == 200 and r.json()["version"] == 1 and RFC3339_MS.match(r.json()["createdAt"])
    cid2 = new_id()
    stack.ddb("PutItem", {"TableName": stack.table, "Item": {"cloneID": {"S": cid2}}})
    assert stack.request("DELETE", "/clones/" + cid2, headers={"If-Match": '"0"'}).status == 204
    cid3 = new_id()
    stack.ddb("PutItem", {"TableName": stack.table, "Item": {"cloneID": {"S": cid3}, "version": {"S": "v9"}}})
    r = stack.request("PUT", "/clones/" + cid3, {"x": 1})
    assert r.status == 200 and r.json()["version"] == 1, "a version that is not a number is replaced"
