# test_worker_list_budget.py — GET /clones keeps one request bounded: it stops after 32 DynamoDB pages or 5 s
# with a cursor (a sparse filter over a big table), and its whole answer, cursor included, fits max_list_bytes.
# Each test has a table of its own (CGI mode with CLONE_JOBS_TABLE), so its pages and sizes are known exactly;
# the proxy makes the pages small (scan_limit) or slow (delay) and counts the Scans.
import json
import os
import subprocess
import time
import uuid
from urllib.parse import quote

import pytest

LIST_MAX_PAGES = 32
LIST_TIME_BUDGET_S = 5
MIN_MAX_LIST_BYTES = 65536  # the smallest max_list_bytes the configuration takes


@pytest.fixture
def table(stack):
    """A fresh table; returns (name, CGI environment naming it)."""
    name = "clone-jobs-budget-" + uuid.uuid4().hex[:10]
    env = dict(os.environ, CLONE_JOBS_TABLE=name)
    r = subprocess.run([stack.admin, "--config", stack.config, "create-table"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    yield name, {"CLONE_JOBS_TABLE": name}
    stack.ddb("DeleteTable", {"TableName": name})


def put_items(stack, table, count, **attrs):
    ids = [f"b{i:03d}-{uuid.uuid4().hex[:6]}" for i in range(count)]
    for cid in ids:
        item = {"cloneID": {"S": cid}}
        item.update({k: {"S": v} for k, v in attrs.items()})
        stack.ddb("PutItem", {"TableName": table, "Item": item})
    return ids


def list_page(stack, env, query):
    r, _ = stack.cgi("GET", "/clones", query=query, env=env, timeout=120)
    assert r.status == 200, r
    return r


def scans(stack, table, mark):
    return [e for e in stack.proxy_log(mark, table=table) if e["operation"] == "Scan"]


def follow(stack, env, table, query):
    """Every page of a listing: [(answer body, Scans it made)], following nextCursor to the end."""
    pages, cursor = [], None
    while True:
        mark = stack.proxy_mark()
        q = query + ("&cursor=" + quote(cursor) if cursor else "")
        body = list_page(stack, env, q).json()
        pages.append((body, len(scans(stack, table, mark))))
        cursor = body.get("nextCursor")
        if not cursor:
            return pages
        assert len(pages) < 50, "the listing does not end"


def test_a_listing_stops_after_32_pages_with_a_cursor(stack, table):
    name, env = table
    ids = put_items(stack, name, 40, status="common")
    stack.scan_limit(1)  # one item per DynamoDB page: 40 items are 41 pages (the last one empty)
    pages = follow(stack, env, name, "status=none-" + uuid.uuid4().hex)
    # The filter matches nothing: the first answer is empty, stopped by the page budget, with a cursor.
    first, first_scans = pages[0]
    assert first_scans == LIST_MAX_PAGES, pages
    assert first["clones"] == [] and first.get("nextCursor"), first
    assert [n for _, n in pages] == [LIST_MAX_PAGES, len(ids) + 1 - LIST_MAX_PAGES], pages
    assert all(body["clones"] == [] for body, _ in pages)
    # The cursor resumes where the budget stopped: with a filter that matches, every item comes once.
    pages = follow(stack, env, name, "status=common")
    got = [i["cloneID"] for body, _ in pages for i in body["clones"]]
    assert sorted(got) == sorted(ids) and len(pages) == 2, [n for _, n in pages]
    assert all(n <= LIST_MAX_PAGES for _, n in pages)


def test_a_listing_stops_after_5_seconds_with_a_cursor(stack, table):
    name, env = table
    put_items(stack, name, 40, status="common")
    stack.scan_limit(1)
    delay_ms = 400  # 32 pages would take 12.8 s: the time budget comes first
    stack.fault("delay", 1000, delay_ms=delay_ms)
    mark = stack.proxy_mark()
    started = time.monotonic()
    r = list_page(stack, {**env}, "status=none-" + uuid.uuid4().hex)
    elapsed = time.monotonic() - started
    stack.clear_faults()
    n = len(scans(stack, name, mark))
    body = r.json()
    assert body["clones"] == [] and body.get("nextCursor"), body
    assert elapsed >= LIST_TIME_BUDGET_S, elapsed
    # Stopped by the clock: more pages than 5 s of them could start, and fewer than the page budget.
    assert 2 <= n < LIST_MAX_PAGES, (n, elapsed)
    assert n <= LIST_TIME_BUDGET_S * 1000 // delay_ms + 1, (n, elapsed)


def item_texts(body):
    """The exact text of each item in a listing's answer, as the worker printed it."""
    prefix = b'{"clones":['
    assert body.startswith(prefix), body[:40]
    text = body.decode()
    decoder, pos, out = json.JSONDecoder(), len(prefix), []
    while text[pos] != "]":
        _, end = decoder.raw_decode(text, pos)
        out.append(text[pos:end])
        pos = end + (1 if text[end] == "," else 0)
    return out


def test_the_whole_answer_fits_in_max_list_bytes(stack, table):
    name, env = table
    ids = put_items(stack, name, 24, blob="x" * 5000)
    whole = list_page(stack, env, "").body
    texts = item_texts(whole)
    assert len(texts) == len(ids) and "nextCursor" not in json.loads(whole)
    # A cap that the first k items fill exactly (each with its separator): the items alone fit, the frame
    # around them ({"clones":[...],"nextCursor":"..."}) must fit as well.
    cap, k = 0, 0
    while cap < MIN_MAX_LIST_BYTES:
        cap += len(texts[k].encode()) + 1
        k += 1
    assert k < len(texts) - 2, "the items must not all fit"
    limited = dict(env, CLONE_JOBS_MAX_LIST_BYTES=str(cap))
    r = list_page(stack, limited, "")
    assert len(r.body) <= cap, (len(r.body), cap)
    first = r.json()
    assert first.get("nextCursor") and 1 <= len(first["clones"]) < k, (len(first["clones"]), k)
    # Following the cursors under the same cap gives every item once, each answer within the cap.
    got, cursor = [i["cloneID"] for i in first["clones"]], first["nextCursor"]
    while cursor:
        r = list_page(stack, limited, "cursor=" + quote(cursor))
        assert len(r.body) <= cap, (len(r.body), cap)
        got += [i["cloneID"] for i in r.json()["clones"]]
        cursor = r.json().get("nextCursor")
    assert sorted(got) == sorted(ids)
