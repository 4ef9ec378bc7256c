# test_hostile_catalogue.py — the hostile-request catalogue (hostile_cases.py) through the real gateway: each case
# gets exactly its status and body, the gateway's request id and CORS headers, leaves the table as it was and
# kills no worker. CATALOGUE_DISCOVER=1 prints what each case got instead of asserting (to write new cases).
import http.client
import json
import os
import re

import pytest

from gateway_stack import gateway, wait_until  # noqa: F401  (the fixture)
from hostile_cases import ALICE, CASES, MISSING, NO_ANSWER, SEED
from raw_client import send_h2, send_http1

DYNALITE = os.environ.get("CLONE_JOBS_TEST_DYNALITE", "")
CORS_HEADERS = "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token,If-Match"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
DISCOVER = os.environ.get("CATALOGUE_DISCOVER") == "1"
# nginx drops a stalled body after client_body_timeout (10 s): wait a little longer than that.
REQUEST_TIMEOUT_S = 20


def ddb(operation, request):
    """A DynamoDB call straight to dynalite (which checks no signature), to see the table as it is."""
    host, port = DYNALITE.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", "/", body=json.dumps(request), headers={
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810." + operation,
            "X-Amz-Date": "20260101T000000Z",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDCLONEJOBSTEST/20260101/us-east-1/dynamodb/"
                             "aws4_request, SignedHeaders=host, Signature=0"})
        r = conn.getresponse()
        data = r.read()
        assert r.status == 200, (operation, r.status, data[:300])
        return json.loads(data)
    finally:
        conn.close()


def table_snapshot(table):
    items, start = [], None
    while True:
        req = {"TableName": table, "ConsistentRead": True}
        if start:
            req["ExclusiveStartKey"] = start
        page = ddb("Scan", req)
        items += page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return sorted(json.dumps(i, sort_keys=True) for i in items)


@pytest.fixture(scope="module")
def catalogue(gateway):
    key = gateway.keys[ALICE]
    r = gateway.request("PUT", "/clones/" + SEED, body={"status": "seed"}, key=key)
    assert r.status in (200, 201), r.body
    assert r.header("ETag") == '"1"' or gateway.request("DELETE", "/clones/" + SEED, key=key).status == 204 and \
        gateway.request("PUT", "/clones/" + SEED, body={"status": "seed"}, key=key).status == 201
    assert gateway.request("GET", "/clones/" + MISSING, key=key).status == 404
    return {"before": table_snapshot(gateway.table), "pids": gateway.worker_pids(), "key": key}


def key_value(case, key):
    k = case.key
    if k is None or k not in ("LOWER", "UPPER", "SWAP", "SPACE", "TRUNC", "FLIP", ALICE):
        return k
    return {ALICE: key, "LOWER": key.lower(), "UPPER": key.upper(), "SWAP": key.swapcase(),
            "SPACE": key + " x", "TRUNC": key[:-1], "FLIP": key[:-1] + ("A" if key[-1] != "A" else "B")}[k]


def build_http1(gateway, case, key):
    headers = [("Host", "127.0.0.1")]
    k = key_value(case, key)
    if k is not None:
        headers.append(("x-api-key", k))
    headers += [(n, v.replace("@alice", key)) for n, v in case.headers]
    names = {n.lower() for n, _ in headers}
    if case.payload is not None and "content-length" not in names and "transfer-encoding" not in names:
        headers.append(("Content-Length", str(len(case.payload))))
    headers.append(("Connection", "close"))
    head = f"{case.method} {gateway.stage}{case.path} HTTP/1.1\r\n" + \
        "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n"
    return head.encode("utf-8"), case.payload or b""


def send(gateway, case, key):
    if case.h2 is not None:
        hdrs = [(":method", case.method), (":scheme", "https"), (":authority", "127.0.0.1"),
                (":path", gateway.stage + case.path)] + [(n, v.replace("@alice", key)) for n, v in case.h2]
        return send_h2(gateway.port, hdrs, body=case.payload, timeout=REQUEST_TIMEOUT_S)
    if case.raw is not None:
        return send_http1(gateway.port, case.raw.replace(b"@alice", key.encode()), timeout=REQUEST_TIMEOUT_S)
    if case.parts is not None and case.payload is None and case.method == "GET" and not case.headers:
        return send_http1(gateway.port, case.parts, timeout=REQUEST_TIMEOUT_S, pause=case.pause)
    head, body = build_http1(gateway, case, key)
    if case.parts is not None:
        body = b"".join(case.parts)
        head = head.replace(b"Connection: close\r\n", b"Content-Length: %d\r\nConnection: close\r\n" % len(body))
        return send_http1(gateway.port, [head + case.parts[0]] + case.parts[1:], timeout=REQUEST_TIMEOUT_S,
                          pause=case.pause)
    return send_http1(gateway.port, head + body, timeout=REQUEST_TIMEOUT_S)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_request(gateway, catalogue, case):
    r = send(gateway, case, catalogue["key"])
    if DISCOVER:
        print(f"\nCASE {case.id}: {r.status} {r.body[:200]!r}")
        return
    if case.body == NO_ANSWER:
        assert r.closed_without_answer and r.status is None, r
    else:
        assert r.status == case.status, r
        if isinstance(case.body, dict):
            assert json.loads(r.body) == case.body, r
        else:
            assert r.body == case.body, r
        if case.method != "HEAD":
            assert r.header("content-type") == "application/json", r
        assert re.fullmatch(UUID_RE, r.header("x-amzn-requestid") or ""), r
        assert r.header("access-control-allow-origin") == "*", r
        assert r.header("access-control-allow-headers") == CORS_HEADERS, r
    # Nothing a hostile request does may change the table or cost a worker.
    assert table_snapshot(gateway.table) == catalogue["before"], f"{case.id} changed the table"
    assert gateway.worker_pids() == catalogue["pids"], f"{case.id} changed the worker pool"


def test_catalogue_size_and_every_access_log_line_parses(gateway, catalogue):
    assert len(CASES) >= 150 and len({c.id for c in CASES}) == len(CASES)
    assert all(c.body is not None for c in CASES), [c.id for c in CASES if c.body is None]
    with open(os.path.join(gateway.logs, "access.log")) as fh:
        for line in fh:
            assert isinstance(json.loads(line)["status"], int), line
