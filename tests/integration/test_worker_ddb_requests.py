# test_worker_ddb_requests.py — what the worker asks DynamoDB, as the proxy received it (dynalite is always
# consistent and never loses a race by itself, so only the requests can show these): every read that decides a
# write or an ETag is strongly consistent, and a write that loses 8 races in a row is a 409 after 8 rounds with
# a random pause that doubles (forced with the proxy's condition_fail fault).
import uuid

from conftest import new_id
from gateway_stack import gateway, proxy_log, proxy_mark  # noqa: F401  (the fixture)

WRITE_ATTEMPTS = 8
# The pause before attempt k (2..8) is random below 4 << (k - 2) ms: 4, 8, ..., 256.
PAUSE_CEILINGS_MS = [4 << k for k in range(WRITE_ATTEMPTS - 1)]
CONFLICT = {"message": "the item was changed by other requests 8 times while this one ran; retry"}


def reads(entries):
    return [e for e in entries if e["operation"] in ("GetItem", "BatchGetItem", "Query", "TransactGetItems")]


def test_reads_that_decide_a_write_or_an_etag_are_strongly_consistent(stack):
    cid, other = new_id(), new_id()
    calls = [  # (method, path, body, headers, status, the answer rests on a read of the item)
        ("POST", "/clones", {"cloneID": cid, "a": 1}, None, 201, False),
        ("GET", "/clones/" + cid, None, None, 200, True),
        ("PUT", "/clones/" + cid, {"a": 2}, None, 200, True),
        ("PUT", "/clones/" + cid, {"a": 3}, {"If-Match": '"2"'}, 200, True),
        ("PATCH", "/clones/" + cid, {"b": 1}, None, 200, True),
        ("PATCH", "/clones/" + cid, {"b": 2}, {"If-Match": '"1"'}, 412, True),
        ("POST", "/clone", {"cloneID": other, "x": 1}, None, 200, True),
        ("POST", "/clone", {"cloneID": other, "x": 2}, None, 200, True),
        ("GET", "/clone?cloneID=" + other, None, None, 200, True),
        ("PATCH", "/clone", {"cloneID": other, "updateKey": "y", "updateValue": 1}, None, 200, False),
        ("DELETE", "/clones/" + cid, None, {"If-Match": '"4"'}, 204, False),
        ("DELETE", "/clone", {"cloneID": other}, None, 200, False),
    ]
    lax, unread = [], []
    for method, path, body, headers, status, decided_by_a_read in calls:
        mark = stack.proxy_mark()
        r = stack.request(method, path, body, headers=headers)
        assert r.status == status, (method, path, r)
        got = reads(stack.proxy_log(mark, table=stack.table))
        if decided_by_a_read and not got:
            unread.append((method, path))
        lax += [(method, path, e["body"]) for e in got if e["body"].get("ConsistentRead") is not True]
    assert unread == [], unread
    assert lax == [], lax


def test_the_quota_remainder_is_read_consistently(gateway):
    """Near the end of a quota the worker reads `leased` to lease exactly the remainder: a stale read could
    lease more than the limit."""
    plan = "remainder" + uuid.uuid4().hex[:6]
    gateway.admin("add-plan", plan, "--rate", "100", "--burst", "100", "--quota", "3", "--period", "MONTH")
    key = gateway.add_key("rem-" + uuid.uuid4().hex[:8], plan)
    mark = proxy_mark()
    statuses = [gateway.request("GET", "/health", key=key).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429], statuses
    got = reads(proxy_log(mark, tables={gateway.usage_table}))
    assert got, "the exhausted quota was not read back"
    lax = [e["body"] for e in got if e["body"].get("ConsistentRead") is not True]
    assert lax == [], lax


def rounds(entries):
    """[(GetItem, PutItem)] of one write, checking they alternate. After a lost race the worker reads once
    more before it gives up (was the lost write its own, whose answer was lost?): a GetItem may end it."""
    ops = [e["operation"] for e in entries]
    if len(ops) % 2 == 1:
        assert ops[-1] == "GetItem", ops
        ops, entries = ops[:-1], entries[:-1]
    assert ops == ["GetItem", "PutItem"] * (len(ops) // 2), ops
    return [(entries[i], entries[i + 1]) for i in range(0, len(entries), 2)]


def test_a_write_that_loses_8_races_is_409_after_8_rounds_with_a_doubling_pause(stack):
    cid = new_id()
    assert stack.request("POST", "/clones", {"cloneID": cid, "n": 0}).status == 201
    first, last = [], []
    for run in range(10):
        stack.fault("condition_fail", WRITE_ATTEMPTS)
        mark = stack.proxy_mark()
        r = stack.request("PUT", "/clones/" + cid, {"n": run + 1})
        assert r.status == 409 and r.json() == CONFLICT, r
        entries = stack.proxy_log(mark, table=stack.table)
        pairs = rounds(entries)
        assert len(pairs) == WRITE_ATTEMPTS, [e["operation"] for e in entries]
        assert all(put["fault"] == "condition_fail" for _, put in pairs)
        # The pause before each new round: from the lost write to the next read.
        gaps = [pairs[i + 1][0]["time"] - pairs[i][1]["time"] for i in range(WRITE_ATTEMPTS - 1)]
        first.append(sum(gaps[:3]))
        last.append(sum(gaps[-3:]))
    # Below 4+8+16 ms before rounds 2-4, below 64+128+256 ms before rounds 6-8 (random, on average 14 and
    # 224 ms): over 10 writes the late pauses add up to far more (chance of the reverse: below 1e-9).
    assert sum(last) > sum(first) + 0.3, (first, last)
    assert sum(last) < 10 * sum(PAUSE_CEILINGS_MS[-3:]) / 1000 + 10, last
    # Nothing was written by the lost rounds.
    item = stack.request("GET", "/clones/" + cid).json()
    assert item["n"] == 0 and item["version"] == 1, item

    # Seven lost races: the eighth round wins.
    stack.fault("condition_fail", WRITE_ATTEMPTS - 1)
    mark = stack.proxy_mark()
    r = stack.request("PUT", "/clones/" + cid, {"n": 99})
    assert r.status == 200 and r.json()["n"] == 99 and r.json()["version"] == 2, r
    assert len(rounds(stack.proxy_log(mark, table=stack.table))) == WRITE_ATTEMPTS

    # With If-Match, a lost race is a 412 at once: the client asked for that version only.
    stack.fault("condition_fail", WRITE_ATTEMPTS)
    mark = stack.proxy_mark()
    r = stack.request("PUT", "/clones/" + cid, {"n": 100}, headers={"If-Match": '"2"'})
    assert r.status == 412 and r.json() == {"message": "If-Match does not match the item's current ETag"}, r
    assert len(rounds(stack.proxy_log(mark, table=stack.table))) == 1
    assert stack.request("GET", "/clones/" + cid).json()["version"] == 2
