# test_clone_ids.py — the cloneID rule through the real gateway: every ID that can be stored is reachable at its
# Location, and an ID that could not be (control characters, "." or ".." segments) is a 400 on every route.
import json
import uuid
from urllib.parse import quote

import pytest

from gateway_stack import gateway  # noqa: F401  (the fixture)

UNREACHABLE = ["x\ny", "x\r\ny", "a\u0001b", "tab\there", "\u001f", "del\u007f", ".", "..", "../clones",
               "a/../b", "./x", "x/.", "x/.."]


def is_id_refusal(r):
    return r.status == 400 and "cloneID" in r.json()["message"]


@pytest.mark.parametrize("cid", UNREACHABLE)
def test_an_unreachable_id_is_refused_when_written_on_every_route(gateway, cid):
    key = gateway.keys["alice"]
    r = gateway.request("POST", "/clones", body={"cloneID": cid}, key=key)
    assert is_id_refusal(r), (r.status, r.body)
    r = gateway.request("POST", "/clone", body={"cloneID": cid, "n": 1}, key=key)
    assert is_id_refusal(r), (r.status, r.body)
    r = gateway.request("GET", "/clone?cloneID=" + quote(cid, safe=""), key=key)
    assert is_id_refusal(r), (r.status, r.body)
    for method in ("PATCH", "DELETE"):
        r = gateway.request(method, "/clone", body={"cloneID": cid, "updateKey": "a", "updateValue": 1}, key=key)
        assert is_id_refusal(r), (method, r.status, r.body)


@pytest.mark.parametrize("cid", [c for c in UNREACHABLE if "." not in c])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_an_encoded_control_character_in_the_path_is_the_same_400(gateway, cid, method):
    r = gateway.request(method, "/clones/" + quote(cid, safe=""), body={"n": 1} if method in ("PUT", "PATCH") else None,
                        key=gateway.keys["alice"])
    assert is_id_refusal(r), (r.status, r.body)


@pytest.mark.parametrize("path", ["/clones/..%2Fclones", "/clones/%2E%2E", "/clones/a/..", "/clones/%2e",
                                  "/clones/x%2F..%2Fy", "/health/..", "/clones/.%2E/clones"])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_a_dot_segment_path_is_one_400_whatever_the_method(gateway, path, method):
    r = gateway.request(method, path, body={"n": 1} if method == "PUT" else None, key=gateway.keys["alice"])
    assert r.status == 400 and r.json() == {"message": "the path must not have . or .. segments"}, (r.status, r.body)
    assert r.header("x-amzn-RequestId") and r.header("Access-Control-Allow-Origin") == "*"


@pytest.mark.parametrize("cid", ["a/b", "a..b/c.d", "...", "x/...", ".hidden", "sp ace", "é€😀", "q?#%&+"])
def test_every_storable_id_is_reachable_at_its_location(gateway, cid):
    key = gateway.keys["alice"]
    cid = cid + "-" + uuid.uuid4().hex[:6]
    r = gateway.request("POST", "/clones", body={"cloneID": cid}, key=key)
    assert r.status == 201, r.body
    location = r.header("Location")
    got = gateway.request("GET", location, key=key, raw_path=True)
    assert got.status == 200 and got.json()["cloneID"] == cid, (location, got.status, got.body)
    assert gateway.request("PUT", location, body={"v": 2}, key=key, raw_path=True).status == 200
    assert gateway.request("DELETE", location, key=key, raw_path=True).status == 204
