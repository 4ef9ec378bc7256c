# test_worker_values.py — the contract's Values over HTTP: numbers exact at DynamoDB's limits both ways,
# out-of-range numbers refused with nothing written, sets and binaries written by other tools, the 400 KB limit.
import json
from decimal import Decimal

from conftest import new_id

EDGE_NUMBERS = [
    "9.9999999999999999999999999999999999999E+125",
    "-9.9999999999999999999999999999999999999E+125",
    "1E-130",
    "-1E-130",
    "12345678901234567890123456789012345678",
    "-0.12345678901234567890123456789012345678",
    "0.00000000000000000000000000000000000001",
    "99999999999999999999",
    "18446744073709551617",
    "-9223372036854775809",
    "3.141592653589793238462643383279502884",
    "1.5e+3",
    "0",
    "-0",
    "1E+125",
    "0.1",
]
OUT_OF_RANGE = ["1E+126", "-1E+126", "1E-131", "-1E-131", "123456789012345678901234567890123456789",
                "1.00000000000000000000000000000000000001", "1e99999"]


def raw_object(pairs):
    """JSON text of an object whose numbers are given as exact text."""
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}"


def test_numbers_at_the_limits_come_back_exact(stack):
    cid = new_id()
    pairs = [("cloneID", json.dumps(cid))] + [(f"n{i}", text) for i, text in enumerate(EDGE_NUMBERS)]
    pairs.append(("nested", "[" + ",".join(EDGE_NUMBERS) + ",{\"x\":" + EDGE_NUMBERS[0] + "}]"))
    r = stack.request("POST", "/clones", raw_object(pairs))
    assert r.status == 201, r
    for body in (r.exact(), stack.request("GET", "/clones/" + cid).exact(),
                 stack.request("GET", "/clone?cloneID=" + cid).exact()):
        for i, text in enumerate(EDGE_NUMBERS):
            assert body[f"n{i}"] == Decimal(text), (text, body[f"n{i}"])
        nested = body["nested"]
        assert [Decimal(t) for t in EDGE_NUMBERS] == nested[:-1]
        assert nested[-1]["x"] == Decimal(EDGE_NUMBERS[0])
    # Stored as DynamoDB numbers, not as strings.
    stored = stack.ddb("GetItem", {"TableName": stack.table, "Key": {"cloneID": {"S": cid}}})["Item"]
    assert "N" in stored["n0"] and Decimal(stored["n0"]["N"]) == Decimal(EDGE_NUMBERS[0])


def test_numbers_exact_through_part1_and_patch(stack):
    cid = new_id()
    r = stack.request("POST", "/clone", raw_object([("cloneID", json.dumps(cid)), ("n", EDGE_NUMBERS[4])]))
    assert r.status == 200 and r.exact()["Item"]["n"] == Decimal(EDGE_NUMBERS[4])
    r = stack.request("PATCH", "/clone",
                      '{"cloneID":%s,"updateKey":"n","updateValue":%s}' % (json.dumps(cid), EDGE_NUMBERS[0]))
    assert r.status == 200
    assert r.exact()["UpdatedAttributes"]["Attributes"]["n"] == Decimal(EDGE_NUMBERS[0])
    r = stack.request("PATCH", "/clones/" + cid, '{"m":%s}' % EDGE_NUMBERS[2])
    assert r.exact()["m"] == Decimal(EDGE_NUMBERS[2]) and r.exact()["n"] == Decimal(EDGE_NUMBERS[0])


def test_out_of_range_numbers_are_400_and_nothing_is_written(stack):
    for text in OUT_OF_RANGE:
        cid = new_id()
        for method, path, body in (
                ("POST", "/clones", raw_object([("cloneID", json.dumps(cid)), ("n", text)])),
                ("POST", "/clone", raw_object([("cloneID", json.dumps(cid)), ("n", text)])),
                ("PUT", "/clones/" + cid, raw_object([("deep", "[{\"n\":" + text + "}]")]))):
            r = stack.request(method, path, body)
            assert r.status == 400, (text, method, path, r)
            assert "number" in r.json()["message"] or "digits" in r.json()["message"], r.json()
        assert stack.request("GET", "/clones/" + cid).status == 404, text
    cid = new_id()
    stack.request("POST", "/clones", {"cloneID": cid, "n": 1})
    r = stack.request("PATCH", "/clone", '{"cloneID":"%s","updateKey":"n","updateValue":1E+126}' % cid)
    assert r.status == 400 and "range" in r.json()["message"], r
    r = stack.request("PATCH", "/clones/" + cid, '{"n":1E-131}')
    assert r.status == 400 and "range" in r.json()["message"], r
    item = stack.request("GET", "/clones/" + cid).json()
    assert item["n"] == 1 and item["version"] == 1


def test_sets_and_binaries_from_other_tools(stack):
    cid = new_id()
    stack.ddb("PutItem", {"TableName": stack.table, "Item": {
        "cloneID": {"S": cid},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "12345678901234567890123456789012345678"]},
        "b": {"B": "aGVsbG8="},
        "bs": {"BS": ["AA==", "AQI="]},
        "m": {"M": {"inner": {"SS": ["z"]}}},
        "nul": {"NULL": True},
        "bool": {"BOOL": False},
    }})
    r = stack.request("GET", "/clones/" + cid)
    assert r.status == 200
    item = r.exact()
    assert sorted(item["ss"]) == ["a", "b"]
    assert sorted(item["ns"]) == [Decimal(1), Decimal("12345678901234567890123456789012345678")]
    assert item["b"] == "aGVsbG8=" and sorted(item["bs"]) == ["AA==", "AQI="]
    assert item["m"] == {"inner": ["z"]} and item["nul"] is None and item["bool"] is False
    listed = stack.request("GET", "/clones?status=none-" + cid).json()
    assert listed == {"clones": []}


def test_item_over_400kb_is_a_clear_400(stack):
    cid = new_id()
    r = stack.request("POST", "/clones", {"cloneID": cid, "blob": "x" * (410 * 1024)})
    assert r.status == 400, r
    assert "400 KB" in r.json()["message"]
    assert stack.request("GET", "/clones/" + cid).status == 404
    assert stack.request("PUT", "/clones/" + cid, {"blob": "y" * (410 * 1024)}).status == 400
    stack.request("POST", "/clones", {"cloneID": cid, "blob": "small"})
    r = stack.request("PATCH", "/clone", {"cloneID": cid, "updateKey": "blob", "updateValue": "z" * (410 * 1024)})
    assert r.status == 400 and "400 KB" in r.json()["message"]
    assert stack.request("GET", "/clones/" + cid).json()["blob"] == "small"


def test_unicode_strings_round_trip(stack):
    cid = new_id("ü-☃-😀")
    value = "line\nbreak \"quoted\" \\ / \u0001 😀 \u2028 é"
    r = stack.request("POST", "/clones", {"cloneID": cid, "text": value, value: "as a name"})
    assert r.status == 201
    item = stack.request("GET", r.header("location")).json()
    assert item["text"] == value and item[value] == "as a name" and item["cloneID"] == cid
