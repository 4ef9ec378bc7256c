# test_worker_limits.py — request limits (body size, JSON depth, header size, escapes) answered with clear 4xx
# that change nothing, and a batch of garbage that must neither crash a worker nor earn a 5xx.
import json
import os
import random
import socket

from conftest import new_id

MAX_BODY = 10485760


def test_body_over_10_mib_is_413(stack):
    cid = new_id()
    body = b'{"cloneID":"' + cid.encode() + b'","x":"' + b"a" * (MAX_BODY - 20) + b'"}'
    assert len(body) > MAX_BODY
    for method, path in (("POST", "/clones"), ("POST", "/clone"), ("PUT", "/clones/" + cid)):
        r = stack.request(method, path, body)
        assert r.status == 413, (method, path, r)
        assert r.json() == {"message": "Request Too Long"}
        assert r.header("x-amzn-errortype") == "RequestTooLongException"
    assert stack.request("GET", "/clones/" + cid).status == 404
    # Exactly at the limit the body is read (and then refused as DynamoDB's item limit, a 400).
    prefix = b'{"cloneID":"' + cid.encode() + b'","x":"'
    body = prefix + b"a" * (MAX_BODY - len(prefix) - 2) + b'"}'
    assert len(body) == MAX_BODY
    r = stack.request("POST", "/clones", body)
    assert r.status == 400 and "400 KB" in r.json()["message"], r


def test_json_depth_limit(stack):
    cid = new_id()
    deep = "[" * 40 + "]" * 40
    r = stack.request("POST", "/clones", '{"cloneID":"%s","d":%s}' % (cid, deep))
    assert r.status == 400 and "deeper" in r.json()["message"], r
    assert stack.request("GET", "/clones/" + cid).status == 404
    ok = "[" * 20 + "1" + "]" * 20
    assert stack.request("POST", "/clones", '{"cloneID":"%s","d":%s}' % (cid, ok)).status == 201


def test_header_over_limit_is_431(stack):
    r = stack.request("GET", "/health", headers={"X-Big": "v" * 9000})
    assert r.status == 431 and r.json() == {"message": "Request Header Fields Too Large"}
    assert stack.request("GET", "/health", headers={"X-Big": "v" * 7000}).status == 200
    cid = new_id()
    r = stack.request("POST", "/clones", {"cloneID": cid}, headers={"X-Big": "v" * 9000})
    assert r.status == 431
    assert stack.request("GET", "/clones/" + cid).status == 404


def test_malformed_percent_encoding_is_400(stack):
    for path in ("/clone?cloneID=%zz", "/clone?cloneID=abc%", "/clone?cloneID=%C3%28", "/clones?limit=%4",
                 "/clones/%C3%28"):
        r = stack.request("GET", path)
        assert r.status == 400, (path, r)
        assert "percent-encoding" in r.json()["message"] or "UTF-8" in r.json()["message"], r.json()
    # nginx refuses a bad escape in the path itself; the worker does the same where nothing is in front.
    for path in ("/clones/ab%2", "/clones/%G1"):
        assert stack.request("GET", path).status == 400
        r, _ = stack.cgi("GET", path)
        assert r.status == 400 and r.json() == {"message": "malformed percent-encoding in the path"}, r
    assert stack.request("GET", "/clones/a%00").status == 400
    r, _ = stack.cgi("GET", "/clones/a%00")
    assert r.status == 400 and r.json() == {"message": "the path segment holds a NUL character"}, r


def raw_exchange(stack, data, timeout=10, end=False):
    """Send raw bytes to nginx (then end the sending side, when end is true) and read until nginx closes.
    Returns the status code nginx answered, or None when it closed without an answer; nginx doing neither
    within timeout fails. (A request that reaches a worker must not be ended early: nginx takes the client's
    end for an abort and drops the answer.)"""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=timeout) as s:
        s.sendall(data)
        if end:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except socket.timeout:
                raise AssertionError(f"nginx neither answered nor closed within {timeout} s: {data[:40]!r}")
            except ConnectionResetError:
                break
            if not c:
                break
            chunks.append(c)
    if not chunks:
        return None
    head = b"".join(chunks).split(b"\r\n", 1)[0].split()
    assert len(head) > 1 and head[0].startswith(b"HTTP/") and head[1].isdigit(), chunks[0][:100]
    return int(head[1])


def test_garbage_never_crashes_a_worker(stack):
    pids = stack.alive_pids()
    assert len(pids) == 2
    rng = random.Random(1234)
    requests = []
    for _ in range(40):
        body = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 3000)))
        method, path = rng.choice([("POST", "/clone"), ("POST", "/clones"), ("PUT", "/clones/g"),
                                   ("PATCH", "/clones/g"), ("PATCH", "/clone"), ("DELETE", "/clone")])
        requests.append((method, path, body, {}))
    bad_utf8 = [b'{"cloneID":"\xff\xfe"}', b'{"cloneID":"a","\xc0\x80":1}', b'{"cloneID":"\xed\xa0\x80"}',
                b'{"cloneID":"a","x":"\xf4\x90\x80\x80"}', b'{"cloneID":"a\\ud800"}']
    for b in bad_utf8:
        requests += [("POST", "/clones", b, {}), ("POST", "/clone", b, {}), ("PATCH", "/clones/x", b, {})]
    nest = [b"[" * 100000, b"{\"a\":" * 50000 + b"1" + b"}" * 50000, b'{"cloneID":"a","x":' + b"[" * 5000]
    requests += [("POST", "/clones", b, {}) for b in nest]
    requests += [
        ("GET", "/health", b"", {"X-Huge": "h" * 30000}),
        ("GET", "/health", b"", {f"X-H{i}": "v" * 100 for i in range(150)}),
        ("GET", "/clones?" + "&".join(f"p{i}=1" for i in range(300)), b"", {}),
        ("GET", "/clones/" + "%00" * 10, b"", {}),
        ("GET", "/clones/" + "x" * 20000, b"", {}),
        ("GET", "/clone?cloneID=" + "%" * 500, b"", {}),
        ("POST", "/clones", b'{"cloneID":"a","x":1e999999999999}', {}),
        ("POST", "/clones", b'{"cloneID":"a","x":-}', {}),
        ("POST", "/clones", b'{"cloneID":"a","x":0.' + b"1" * 100000 + b"}", {}),
        ("POST", "/clones", b'{"' + b"k" * 70000 + b'":1}', {}),
        ("POST", "/clones", b'{"":1}', {}),
        ("PATCH", "/clone", b'{"cloneID":"a","updateKey":"' + b"k" * 70000 + b'","updateValue":1}', {}),
        ("PUT", "/clones/a", b'{"a":1}', {"If-Match": '"' + "9" * 5000 + '"'}),
        ("PUT", "/clones/a", b'{"a":1}', {"If-Match": ",".join(['"1"'] * 500)}),
        ("DELETE", "/clones/a", b"", {"If-Match": ",".join([f'"{i}"' for i in range(40)])}),
        ("GET", "/clones?cursor=" + "A" * 30000, b"", {}),
        ("FOO", "/clones", b"", {}),
    ]
    for method, path, body, headers in requests:
        try:
            r = stack.request(method, path, body, headers=headers, timeout=30)
        except (ConnectionError, OSError) as e:
            raise AssertionError(f"{method} {path[:60]} broke the connection: {e}") from e
        assert r.status < 500, (method, path[:60], headers and list(headers)[:2], r)
    # Raw protocol garbage straight at nginx (it answers these itself; the workers must not mind).
    # Each with the answer it must get: a short body is given up without an answer when the client ends.
    for data, end, want in ((b"GARBAGE\r\n\r\n", False, 400),
                            (b"POST /clones HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{", True, None),
                            (b"POST /clones HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n0\r\n\r\n", False, 400),
                            (rng.randbytes(2000), False, 400)):
        assert raw_exchange(stack, data, end=end) == want, data[:40]
    assert stack.alive_pids() == pids, "a worker died"
    assert stack.request("GET", "/health?deep=1").status == 200
