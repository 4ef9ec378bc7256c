# test_gateway_answers.py — every answer nginx makes itself is JSON with the request id and CORS headers; the
# header limits give one 431; malformed HTTP/2 is refused; every access-log line parses (issue 12, items 5-10).
import json
import os
import re

import pytest

from gateway_stack import gateway, wait_until  # noqa: F401  (the fixture)
from raw_client import send_h2, send_http1

CORS_HEADERS = "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token,If-Match"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
MISSING_TOKEN = b'{"message":"Missing Authentication Token"}'
TOO_LARGE_HEADERS = b'{"message":"Request Header Fields Too Large"}'


def assert_json_answer(r, status, body, error_type=None):
    assert r.status == status, r
    assert r.body == body, r
    assert r.header("content-type") == "application/json", r
    json.loads(r.body)
    assert re.fullmatch(UUID_RE, r.header("x-amzn-requestid") or ""), r
    assert r.header("access-control-allow-origin") == "*", r
    assert r.header("access-control-allow-headers") == CORS_HEADERS, r
    assert r.header("x-amzn-errortype") == error_type, r


def h1(gateway, head, body=b""):
    """A raw HTTP/1.1 request; head is the request line and headers without the final blank line."""
    return send_http1(gateway.port, head.encode("latin-1") + b"\r\nConnection: close\r\n\r\n" + body)


# Item 5: each status nginx emits before a worker runs, how it is provoked, and the JSON it must be.
NGINX_ANSWERS = [
    ("http-version-9.9", "GET /prod/health HTTP/9.9\r\nHost: a", 505, b'{"message":"HTTP Version Not Supported"}', None),
    ("http-version-2.0-text", "GET /prod/health HTTP/2.0\r\nHost: a", 505, b'{"message":"HTTP Version Not Supported"}',
     None),
    ("te-gzip-chunked", "POST /prod/clones HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked", 501,
     b'{"message":"Not Implemented"}', None),
    ("te-identity", "POST /prod/clones HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity", 501,
     b'{"message":"Not Implemented"}', None),
    ("header-20000-bytes", "GET /prod/health HTTP/1.1\r\nHost: a\r\nX-Big: " + "a" * 20000, 431, TOO_LARGE_HEADERS,
     None),
    ("headers-over-64k", "GET /prod/health HTTP/1.1\r\nHost: a\r\n" +
     "\r\n".join(f"X-H{i}: {'b' * 15000}" for i in range(5)), 431, TOO_LARGE_HEADERS, None),
    ("path-20000-bytes", "GET /prod/" + "a" * 20000 + " HTTP/1.1\r\nHost: a", 414,
     b'{"message":"Request-URI Too Long"}', None),
    ("trace", "TRACE /prod/clones HTTP/1.1\r\nHost: a", 403, MISSING_TOKEN, "MissingAuthenticationTokenException"),
    ("trace-unknown-path", "TRACE /x HTTP/1.1\r\nHost: a", 403, MISSING_TOKEN, "MissingAuthenticationTokenException"),
    ("internal-location", "GET /__clone_jobs_gateway/400 HTTP/1.1\r\nHost: a", 403, MISSING_TOKEN,
     "MissingAuthenticationTokenException"),
    ("internal-location-500", "GET /__clone_jobs_gateway/500 HTTP/1.1\r\nHost: a", 403, MISSING_TOKEN,
     "MissingAuthenticationTokenException"),
    ("preflight-if-match", "OPTIONS /prod/clones HTTP/1.1\r\nHost: a\r\nIf-Match: \"1\"", 412,
     b'{"message":"Precondition Failed"}', None),
    ("preflight-if-unmodified-since", "OPTIONS /prod/clones HTTP/1.1\r\nHost: a\r\n"
     "If-Unmodified-Since: Mon, 01 Jan 1990 00:00:00 GMT", 412, b'{"message":"Precondition Failed"}', None),
    ("bad-request-line", "\x01\x02 / HTTP/1.1\r\nHost: a", 400, b'{"message":"Bad Request"}', None),
    ("no-host", "GET /prod/health HTTP/1.1", 400, b'{"message":"Bad Request"}', None),
    ("two-hosts", "GET /prod/health HTTP/1.1\r\nHost: a\r\nHost: b", 400, b'{"message":"Bad Request"}', None),
    ("lower-case-method", "get /prod/health HTTP/1.1\r\nHost: a", 400, b'{"message":"Bad Request"}', None),
    ("http10-chunked", "POST /prod/clones HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked", 400,
     b'{"message":"Bad Request"}', None),
    ("content-length-and-chunked", "POST /prod/clones HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
     "Transfer-Encoding: chunked", 400, b'{"message":"Bad Request"}', None),
    ("escaped-nul-in-path", "GET /prod/clones/%00 HTTP/1.1\r\nHost: a", 400, b'{"message":"Bad Request"}', None),
]


@pytest.mark.parametrize("name,head,status,body,error_type", NGINX_ANSWERS, ids=[c[0] for c in NGINX_ANSWERS])
def test_every_answer_nginx_makes_is_json(gateway, name, head, status, body, error_type):
    r = h1(gateway, head)
    assert_json_answer(r, status, body, error_type)


def test_an_h2_request_with_a_header_over_the_buffers_is_the_same_431(gateway):
    r = send_h2(gateway.port, h2_headers(gateway, [("x-big", "a" * 20000)]))
    assert r.status == 431 and r.body == TOO_LARGE_HEADERS, r


# Item 7: the worker's header limits (count and size) give the same answer as nginx's.
# The worker takes 100 headers; nginx passes every header on but x-api-key (and Connection is one of them):
# Host, x-api-key, Connection and 98 more is the most a request through the gateway may have.
@pytest.mark.parametrize("headers", [
    [(f"X-H{i}", "v") for i in range(99)],           # 102 header lines: 101 reach the worker
    [("X-Big", "a" * 8188)],                          # one header of 8193 bytes (X_BIG and the value)
], ids=["102-header-lines", "one-8193-byte-header"])
def test_the_workers_header_limits_are_the_same_431(gateway, headers):
    head = "GET /prod/health HTTP/1.1\r\nHost: a\r\nx-api-key: " + gateway.keys["alice"]
    head += "".join(f"\r\n{n}: {v}" for n, v in headers)
    r = h1(gateway, head)
    assert_json_answer(r, 431, TOO_LARGE_HEADERS)


def test_headers_at_the_workers_limits_pass(gateway):
    # The edge: 101 header lines (100 reach the worker), one of them 8192 bytes with its name.
    head = "GET /prod/health HTTP/1.1\r\nHost: a\r\nx-api-key: " + gateway.keys["alice"]
    head += "".join(f"\r\nX-H{i}: v" for i in range(97)) + "\r\nX-Big: " + "a" * (8192 - len("X_BIG"))
    r = h1(gateway, head)
    assert r.status == 200 and r.body == b'{"status":"ok"}', r


# Item 9: HTTP/2 requests with connection-specific headers are malformed (RFC 9113 8.2.2): 400.
def h2_headers(gateway, extra, method="GET", path="/prod/health"):
    return [(":method", method), (":scheme", "https"), (":authority", "127.0.0.1"), (":path", path),
            ("x-api-key", gateway.keys["alice"])] + extra


@pytest.mark.parametrize("extra", [
    [("connection", "close")], [("te", "gzip")], [("te", "trailers, gzip")], [("keep-alive", "timeout=5")],
    [("proxy-connection", "close")], [("transfer-encoding", "chunked")], [("upgrade", "h2c")],
], ids=lambda e: e[0][0] + "=" + e[0][1])
def test_malformed_http2_is_refused(gateway, extra):
    r = send_h2(gateway.port, h2_headers(gateway, extra))
    assert r.status == 400 and r.body == b'{"message":"Bad Request"}', r
    assert r.header("access-control-allow-headers") == CORS_HEADERS


def test_http2_te_trailers_is_allowed(gateway):
    r = send_h2(gateway.port, h2_headers(gateway, [("te", "trailers")]))
    assert r.status == 200 and r.body == b'{"status":"ok"}', r


# Item 8: every access-log line is JSON, a reset HTTP/2 stream included.
def test_every_access_log_line_parses_including_a_reset_h2_stream(gateway):
    log = os.path.join(gateway.logs, "access.log")
    # An upper-case header name is a protocol error in HTTP/2: nginx resets the stream before any status.
    r = send_h2(gateway.port, h2_headers(gateway, [("X-Upper", "1")]))
    assert r.status is None and r.closed_without_answer, r

    def reset_logged():
        with open(log) as fh:
            return any('"status":0,' in line for line in fh)
    assert wait_until(reset_logged, 5)
    with open(log) as fh:
        lines = fh.read().splitlines()
    bad = []
    for line in lines:
        try:
            entry = json.loads(line)
            assert isinstance(entry["status"], int)
        except (ValueError, AssertionError, KeyError):
            bad.append(line)
    assert bad == [], bad[:3]
    assert any(json.loads(line)["status"] == 0 for line in lines)


def test_the_https_redirect_is_json_too(gateway):
    """Plain HTTP on the TLS port (nginx's 497): 301 to the configured name, with a JSON body."""
    import socket
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as s:
        s.sendall(b"GET /prod/health?a=1 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    from raw_client import parse_http1
    r = parse_http1(data)
    assert r.status == 301, r
    assert r.header("location") == f"https://api.clone-jobs.test:{gateway.port}/prod/health?a=1", r
    assert r.body == b'{"message":"Moved Permanently"}' and r.header("content-type") == "application/json", r
    assert re.fullmatch(UUID_RE, r.header("x-amzn-requestid") or ""), r
    assert r.header("access-control-allow-headers") == CORS_HEADERS, r
