# test_worker_list.py — GET /clones: pagination with signed cursors over a few hundred items (every item exactly
# once), limit checks, tampered or misused cursors, the status= filter, and the 6 MB response cap.
import base64
import concurrent.futures
import json
from urllib.parse import quote

import pytest

from conftest import new_id

RESPONSE_CAP = 6291456
ITEMS = 300


def list_all(stack, query, max_pages=1000):
    """Follow nextCursor to the end; returns (items, number of pages)."""
    items, pages, cursor = [], 0, None
    while True:
        q = query + (("&" if query else "") + "cursor=" + quote(cursor) if cursor else "")
        r = stack.request("GET", "/clones" + ("?" + q if q else ""))
        assert r.status == 200, r
        body = r.json()
        assert set(body) <= {"clones", "nextCursor"}
        items.extend(body["clones"])
        pages += 1
        cursor = body.get("nextCursor")
        if not cursor:
            return items, pages
        assert pages < max_pages, "pagination does not end"


@pytest.fixture(scope="module")
def many(worker_stack):
    """ITEMS items with one status value of their own, made through the API."""
    status = new_id("page")
    ids = [new_id("p") for _ in range(ITEMS)]

    def make(cid):
        r = worker_stack.request("POST", "/clones", {"cloneID": cid, "status": status, "n": len(cid)})
        assert r.status == 201, r

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(make, ids))
    return status, set(ids)


def test_paginate_with_limit_every_item_once(stack, many):
    status, ids = many
    items, pages = list_all(stack, "limit=7&status=" + quote(status))
    got = [i["cloneID"] for i in items]
    assert len(got) == len(set(got)) == ITEMS and set(got) == ids
    assert pages >= ITEMS // 7
    assert all(i["status"] == status for i in items)


def test_paginate_whole_table_every_item_once(stack, many):
    _, ids = many
    items, pages = list_all(stack, "limit=50")
    got = [i["cloneID"] for i in items]
    assert len(got) == len(set(got)), "an item came twice"
    assert ids <= set(got)
    assert pages > 1
    everything, _ = list_all(stack, "")
    assert sorted(i["cloneID"] for i in everything) == sorted(got)


def test_limit_pages_are_exact(stack, many):
    status, _ = many
    r = stack.request("GET", f"/clones?limit=1000&status={quote(status)}")
    body = r.json()
    assert len(body["clones"]) == ITEMS and "nextCursor" not in body
    r = stack.request("GET", "/clones?limit=10")
    assert len(r.json()["clones"]) == 10 and r.json()["nextCursor"]
    r = stack.request("GET", f"/clones?limit=1&status={quote(status)}")
    assert len(r.json()["clones"]) == 1 and r.json()["nextCursor"]


def test_bad_limits(stack):
    for value in ("0", "1001", "-1", "abc", "1.5", "", "99999999999999999999", "+5", " 5"):
        r = stack.request("GET", "/clones?limit=" + quote(value))
        assert r.status == 400, (value, r)
        assert r.json() == {"message": "limit must be an integer from 1 to 1000"}


def test_tampered_and_foreign_cursors(stack, many):
    status, _ = many
    r = stack.request("GET", f"/clones?limit=3&status={quote(status)}")
    cursor = r.json()["nextCursor"]
    payload_b64, tag_b64 = cursor.split(".")
    payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
    forged = dict(payload, k={"cloneID": {"S": "zzz"}})
    forged_b64 = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    bad = [cursor[:-1], cursor[:10], cursor + "A", "x" + cursor[1:], forged_b64 + "." + tag_b64,
           payload_b64 + "." + tag_b64[::-1], "garbage", "....", "%%%", "A" * 5000,
           cursor.replace(".", "")]
    for c in bad:
        r = stack.request("GET", f"/clones?limit=3&status={quote(status)}&cursor=" + quote(c))
        assert r.status == 400 and r.json() == {"message": "invalid cursor"}, (c[:40], r)
    # A cursor belongs to its filter.
    for query in ("limit=3", "limit=3&status=other", "limit=3&status="):
        r = stack.request("GET", f"/clones?{query}&cursor=" + quote(cursor))
        assert r.status == 400 and r.json() == {"message": "invalid cursor"}, query
    r = stack.request("GET", f"/clones?limit=3&status={quote(status)}&cursor=" + quote(cursor))
    assert r.status == 200 and len(r.json()["clones"]) == 3


def test_status_filter(stack):
    tag = new_id("st")
    made = {}
    for i in range(9):
        s = f"{tag}-{i % 3}"
        cid = new_id()
        assert stack.request("POST", "/clones", {"cloneID": cid, "status": s}).status == 201
        made.setdefault(s, set()).add(cid)
    # A status set through part 1, with the reserved word as updateKey, is found by the filter too.
    cid = new_id()
    stack.request("POST", "/clone", {"cloneID": cid})
    stack.request("PATCH", "/clone", {"cloneID": cid, "updateKey": "status", "updateValue": f"{tag}-0"})
    made[f"{tag}-0"].add(cid)
    for s, ids in made.items():
        items, _ = list_all(stack, "status=" + quote(s))
        assert {i["cloneID"] for i in items} == ids and len(items) == len(ids)
        items, _ = list_all(stack, "limit=2&status=" + quote(s))
        assert {i["cloneID"] for i in items} == ids and len(items) == len(ids)
    items, _ = list_all(stack, "status=" + quote(tag + "-none"))
    assert items == []


def test_six_megabyte_cap(stack):
    status = new_id("big")
    ids = set()
    blob = "b" * (350 * 1000)
    for i in range(20):
        cid = new_id("big")
        r = stack.request("POST", "/clones", {"cloneID": cid, "status": status, "blob": blob})
        assert r.status == 201, r
        ids.add(cid)
    try:
        r = stack.request("GET", "/clones?status=" + quote(status))
        assert r.status == 200
        assert len(r.body) <= RESPONSE_CAP, len(r.body)
        first = r.json()
        assert first.get("nextCursor"), "20 items of 350 KB exceed 6 MB: a cursor must follow"
        assert 10 <= len(first["clones"]) < 20
        assert len(r.body) > RESPONSE_CAP - 2 * 360 * 1000, "the page should be filled close to the cap"
        rest = stack.request("GET", "/clones?status=" + quote(status) + "&cursor=" + quote(first["nextCursor"]))
        assert rest.status == 200 and len(rest.body) <= RESPONSE_CAP
        second = rest.json()
        assert "nextCursor" not in second
        got = [i["cloneID"] for i in first["clones"] + second["clones"]]
        assert len(got) == 20 and set(got) == ids
        assert all(i["blob"] == blob for i in first["clones"] + second["clones"])
        # Without a filter the cap holds as well, and paging still sees every big item once.
        items, pages = list_all(stack, "")
        got = [i["cloneID"] for i in items if i["cloneID"] in ids]
        assert sorted(got) == sorted(ids) and pages >= 2
    finally:
        for cid in ids:
            stack.request("DELETE", "/clones/" + cid)
