# test_ddb_limits_gateway.py — DynamoDB's item limits through the real gateway, at each edge and one past it.
# dynalite is lenient (it stores an empty or a 70,000-byte attribute name): the worker must refuse what DynamoDB would.
import uuid

import pytest

from gateway_stack import gateway  # noqa: F401  (the fixture)

NAME_MAX = 65535
ITEM_MAX = 409600
# Every part-2 write adds createdAt and updatedAt (24 characters each) and version 1 (2 bytes as DynamoDB counts).
SERVER_ATTRIBUTES = len("createdAt") + 24 + len("updatedAt") + 24 + len("version") + 2


def new_id():
    return "lim-" + uuid.uuid4().hex[:12]


@pytest.fixture
def alice(gateway):
    return gateway.keys["alice"]


@pytest.mark.parametrize("where", ["top", "in-a-map"])
def test_attribute_name_of_65535_bytes_is_taken_65536_refused(gateway, alice, where):
    for length in (NAME_MAX, NAME_MAX + 1):
        cid = new_id()
        name = "n" * length
        body = {"cloneID": cid, name: 1} if where == "top" else {"cloneID": cid, "m": {name: 1}}
        r = gateway.request("POST", "/clones", body=body, key=alice)
        if length == NAME_MAX:
            assert r.status == 201, r.body[:200]
            got = gateway.request("GET", "/clones/" + cid, key=alice).json()
            assert (got[name] if where == "top" else got["m"][name]) == 1
        else:
            prefix = "" if where == "top" else "attribute m: "
            assert r.status == 400, r.body[:200]
            assert r.json() == {"message": prefix + "an attribute name is 65536 bytes; DynamoDB's attribute "
                                                    "names are 1 to 65535 bytes"}
            assert gateway.request("GET", "/clones/" + cid, key=alice).status == 404


@pytest.mark.parametrize("method", ["POST /clones", "PUT", "POST /clone"])
def test_an_empty_attribute_name_is_refused_on_every_write(gateway, alice, method):
    cid = new_id()
    if method == "PUT":
        r = gateway.request("PUT", "/clones/" + cid, body={"": "x"}, key=alice)
    else:
        r = gateway.request("POST", method.split()[1], body={"cloneID": cid, "": "x"}, key=alice)
    assert r.status == 400 and r.json() == {
        "message": "an attribute name is empty; DynamoDB's attribute names are 1 to 65535 bytes"}, r.body
    assert gateway.request("GET", "/clones/" + cid, key=alice).status == 404


def test_an_item_of_exactly_400_kb_is_taken_one_byte_more_refused(gateway, alice):
    for total in (ITEM_MAX, ITEM_MAX + 1):
        cid = new_id()
        fixed = len("cloneID") + len(cid) + len("blob") + SERVER_ATTRIBUTES
        r = gateway.request("POST", "/clones", body={"cloneID": cid, "blob": "b" * (total - fixed)}, key=alice)
        if total == ITEM_MAX:
            assert r.status == 201, r.body[:200]
        else:
            assert r.status == 400 and r.json() == {
                "message": "the item is 409601 bytes; DynamoDB limits an item to 400 KB (409600 bytes, attribute "
                           "names included)"}, r.body[:300]
            assert gateway.request("GET", "/clones/" + cid, key=alice).status == 404


def test_attribute_names_count_in_the_400_kb(gateway, alice):
    cid = new_id()
    fixed = len("cloneID") + len(cid) + len("blob") + SERVER_ATTRIBUTES
    # The same value as the accepted item above, under a name one byte longer: over the limit.
    r = gateway.request("POST", "/clones", body={"cloneID": cid, "blob2": "b" * (ITEM_MAX - fixed)}, key=alice)
    assert r.status == 400 and "409601 bytes" in r.json()["message"], r.body[:300]


def test_nesting_at_the_json_limit(gateway, alice):
    # The body is one level, so 31 levels of lists fit in max_json_depth (32) and 32 do not; DynamoDB's own 32
    # levels inside an attribute are checked in the worker as well (tests/unit/test_ddb_value.c).
    cid = new_id()
    ok = '{"cloneID":"%s","d":%s1%s}' % (cid, "[" * 31, "]" * 31)
    assert gateway.request("POST", "/clones", body=ok, key=alice,
                           headers={"Content-Type": "application/json"}).status == 201
    cid = new_id()
    deep = '{"cloneID":"%s","d":%s1%s}' % (cid, "[" * 32, "]" * 32)
    r = gateway.request("POST", "/clones", body=deep, key=alice, headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.json() == {"message": "JSON nested deeper than 32 levels"}, r.body


def test_an_update_value_is_held_to_the_item_limit(gateway, alice):
    cid = new_id()
    assert gateway.request("POST", "/clone", body={"cloneID": cid}, key=alice).status == 200
    # One byte more than an item can hold: refused before the call.
    r = gateway.request("PATCH", "/clone", body={"cloneID": cid, "updateKey": "v", "updateValue": "x" * (ITEM_MAX + 1)},
                        key=alice)
    assert r.status == 400 and r.json() == {
        "message": "updateValue: a value of 409601 bytes does not fit in DynamoDB's 400 KB item (409600 bytes)"}
    # Small enough alone, too large with the item around it: DynamoDB's ValidationException, still a 400.
    r = gateway.request("PATCH", "/clone", body={"cloneID": cid, "updateKey": "v", "updateValue": "x" * ITEM_MAX},
                        key=alice)
    assert r.status == 400 and "400 KB" in r.json()["message"], r.body[:300]
    assert "v" not in gateway.request("GET", "/clones/" + cid, key=alice).json()
