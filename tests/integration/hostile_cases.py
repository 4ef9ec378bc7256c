# hostile_cases.py — the hostile-request catalogue of test_hostile_catalogue.py: what an attacker or a careless
# client sends, and the exact status and body the gateway must answer. None of them may change the table.
# A case: name, a request (method, path under the stage, headers, body; or raw bytes; or HTTP/2 headers),
# which key it carries, and the expected status and body (bytes, a dict compared as JSON, or NO_ANSWER).
import json

NO_ANSWER = "no answer"  # nginx closes the connection without a response (and logs 408 or 400)
ALICE = "alice"          # the session's valid key; other strings are sent as they are
SEED = "cat-seed"        # an item the fixture creates (version 1); no case may change it
MISSING = "cat-missing"  # an id that never exists

BAD_REQUEST = b'{"message":"Bad Request"}'
MISSING_TOKEN = b'{"message":"Missing Authentication Token"}'
# A "." or ".." segment in the raw path, before any route (the gateway's rule: nginx would resolve it to
# another path than the one the worker routes on).
DOT_SEGMENT = b'{"message":"the path must not have . or .. segments"}'
FORBIDDEN = b'{"message":"Forbidden"}'
TOO_LONG = b'{"message":"Request Too Long"}'
HEADERS_TOO_LARGE = b'{"message":"Request Header Fields Too Large"}'
URI_TOO_LONG = b'{"message":"Request-URI Too Long"}'


def msg(text):
    return {"message": text}


class Case:
    def __init__(self, category, name, status, body, method="GET", path="/health", headers=None, payload=None,
                 key=ALICE, raw=None, h2=None, parts=None, pause=0.0, query=""):
        self.category, self.name, self.status, self.body = category, name, status, body
        self.method, self.path, self.headers, self.payload = method, path, headers or [], payload
        self.key, self.raw, self.h2, self.parts, self.pause = key, raw, h2, parts, pause

    @property
    def id(self):
        return f"{self.category}:{self.name}"


def c(*args, **kwargs):
    return Case(*args, **kwargs)


def json_body(obj):
    return json.dumps(obj).encode()


CASES = []
add = CASES.append

# -- keys (issue 12 items 1-3): only the exact key, once, in the header --------------------------------------
for name, key in [("none", None), ("empty", ""), ("lower-case", "LOWER"), ("upper-case", "UPPER"),
                  ("swapped-case", "SWAP"), ("trailing-space-kept", "SPACE"), ("truncated", "TRUNC"),
                  ("one-char-changed", "FLIP"), ("40-x", "x" * 40), ("4000-bytes", "k" * 4000),
                  ("sql-like", "' OR '1'='1"), ("unicode", "ключ")]:
    add(c("keys", name, 403, FORBIDDEN, key=key))
add(c("keys", "two-valid-keys", 403, FORBIDDEN, key=None, headers=[("x-api-key", "@alice"), ("X-Api-Key", "@alice")]))
add(c("keys", "valid-then-invalid", 403, FORBIDDEN, key=None, headers=[("x-api-key", "@alice"), ("x-api-key", "bad")]))
add(c("keys", "invalid-then-valid", 403, FORBIDDEN, key=None, headers=[("x-api-key", "bad"), ("x-api-key", "@alice")]))
add(c("keys", "valid-then-empty", 403, FORBIDDEN, key=None, headers=[("x-api-key", "@alice"), ("x-api-key", "")]))
add(c("keys", "in-the-query-only", 403, FORBIDDEN, key=None, path="/health?x-api-key=@alice"))
add(c("keys", "as-authorization", 403, FORBIDDEN, key=None, headers=[("Authorization", "@alice")]))
add(c("keys", "as-x-api-key-underscore", 403, FORBIDDEN, key=None, headers=[("x_api_key", "@alice")]))
add(c("keys", "forbidden-write", 403, FORBIDDEN, key=None, method="DELETE", path="/clones/" + SEED))
add(c("keys", "forbidden-post", 403, FORBIDDEN, key="bad", method="POST", path="/clones",
      headers=[("Content-Type", "application/json")], payload=json_body({"cloneID": "cat-forbidden"})))
add(c("keys", "h2-two-keys", 403, FORBIDDEN, key=None,
      h2=[("x-api-key", "@alice"), ("x-api-key", "bad")]))

# -- the gateway's own answers (item 5) and versions ------------------------------------------------------
add(c("nginx", "http-9.9", 505, b'{"message":"HTTP Version Not Supported"}', raw=b"GET /prod/health HTTP/9.9\r\nHost: a\r\n\r\n"))
# nginx serves any HTTP/1.x as HTTP/1.1 (this one has no key).
add(c("nginx", "http-1.2", 403, FORBIDDEN, raw=b"GET /prod/health HTTP/1.2\r\nHost: a\r\n\r\n"))
add(c("nginx", "http-3.0", 505, b'{"message":"HTTP Version Not Supported"}', raw=b"GET /prod/health HTTP/3.0\r\nHost: a\r\n\r\n"))
add(c("nginx", "http-1.1-no-host", 400, BAD_REQUEST, raw=b"GET /prod/health HTTP/1.1\r\n\r\n"))
add(c("nginx", "garbage-request-line", 400, BAD_REQUEST, raw=b"\x16\x03\x01 hello\r\n\r\n"))
add(c("nginx", "empty-request-line", 400, BAD_REQUEST, raw=b"\r\n\r\n GET\r\n\r\n"))
add(c("nginx", "no-version-space", 400, BAD_REQUEST, raw=b"GET /prod/health HTTP/1.1 x\r\nHost: a\r\n\r\n"))
add(c("nginx", "tab-in-uri", 400, BAD_REQUEST, raw=b"GET /prod/he\talth HTTP/1.1\r\nHost: a\r\n\r\n"))
add(c("nginx", "space-in-uri", 400, BAD_REQUEST, raw=b"GET /prod/he alth HTTP/1.1\r\nHost: a\r\n\r\n"))
add(c("nginx", "two-hosts", 400, BAD_REQUEST, raw=b"GET /prod/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"))
add(c("nginx", "host-with-slash", 400, BAD_REQUEST, raw=b"GET /prod/health HTTP/1.1\r\nHost: a/b\r\n\r\n"))
# nginx drops a header line it cannot read (ignore_invalid_headers): the request has no key.
add(c("nginx", "header-without-colon", 403, FORBIDDEN, raw=b"GET /prod/health HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"))
add(c("nginx", "nul-in-header", 400, BAD_REQUEST, raw=b"GET /prod/health HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n"))
add(c("nginx", "header-20000-bytes", 431, HEADERS_TOO_LARGE, headers=[("X-Big", "a" * 20000)]))
add(c("nginx", "cookie-20000-bytes", 431, HEADERS_TOO_LARGE, headers=[("Cookie", "c=" + "a" * 20000)]))
add(c("nginx", "path-20000-bytes", 414, URI_TOO_LONG, path="/clones/" + "a" * 20000))
add(c("nginx", "query-20000-bytes", 414, URI_TOO_LONG, path="/clones?limit=1&x=" + "a" * 20000))
add(c("nginx", "te-gzip-chunked", 501, b'{"message":"Not Implemented"}', method="POST", path="/clones",
      headers=[("Transfer-Encoding", "gzip, chunked")], payload=b"0\r\n\r\n"))
add(c("nginx", "te-identity", 501, b'{"message":"Not Implemented"}', method="POST", path="/clones",
      headers=[("Transfer-Encoding", "identity")], payload=b""))
add(c("nginx", "te-deflate", 501, b'{"message":"Not Implemented"}', method="POST", path="/clones",
      headers=[("Transfer-Encoding", "deflate")], payload=b""))
add(c("nginx", "internal-location", 400, DOT_SEGMENT, path="/../__clone_jobs_gateway/400"))
add(c("nginx", "preflight-if-match", 412, b'{"message":"Precondition Failed"}', method="OPTIONS", path="/clones",
      key=None, headers=[("If-Match", '"1"')]))
add(c("nginx", "preflight-if-unmodified-since", 412, b'{"message":"Precondition Failed"}', method="OPTIONS",
      path="/clones/" + SEED, key=None, headers=[("If-Unmodified-Since", "Mon, 01 Jan 1990 00:00:00 GMT")]))
add(c("nginx", "worker-101-headers", 431, HEADERS_TOO_LARGE, headers=[(f"X-H{i}", "v") for i in range(101)]))
add(c("nginx", "worker-9000-byte-header", 431, HEADERS_TOO_LARGE, headers=[("X-Big", "a" * 9000)]))
add(c("nginx", "worker-300-byte-header-name", 431, HEADERS_TOO_LARGE, headers=[("X-" + "n" * 300, "v")]))

# -- HTTP/2 (item 9) ---------------------------------------------------------------------------------------
for name, extra in [("connection-close", ("connection", "close")), ("te-gzip", ("te", "gzip")),
                    ("keep-alive", ("keep-alive", "1")), ("proxy-connection", ("proxy-connection", "x")),
                    ("transfer-encoding", ("transfer-encoding", "chunked")), ("upgrade", ("upgrade", "h2c"))]:
    add(c("http2", name, 400, BAD_REQUEST, h2=[("x-api-key", "@alice"), extra]))
add(c("http2", "upper-case-header-name", None, NO_ANSWER, h2=[("x-api-key", "@alice"), ("X-Upper", "1")]))
add(c("http2", "malformed-write", 400, BAD_REQUEST, method="DELETE", path="/clones/" + SEED,
      h2=[("x-api-key", "@alice"), ("connection", "close")]))

# -- framing: chunked, lying Content-Length, slow and stalled bodies ----------------------------------------
CT = [("Content-Type", "application/json")]
add(c("framing", "chunked-bad-size", 400, BAD_REQUEST, method="POST", path="/clones",
      headers=CT + [("Transfer-Encoding", "chunked")], payload=b"zz\r\n{}\r\n0\r\n\r\n"))
add(c("framing", "chunked-negative-size", 400, BAD_REQUEST, method="POST", path="/clones",
      headers=CT + [("Transfer-Encoding", "chunked")], payload=b"-1\r\n{}\r\n0\r\n\r\n"))
add(c("framing", "chunked-huge-size", 413, TOO_LONG, method="POST", path="/clones",
      headers=CT + [("Transfer-Encoding", "chunked")], payload=b"ffffffffff\r\n{}\r\n0\r\n\r\n"))
add(c("framing", "chunked-over-10-mib", 413, TOO_LONG, method="POST", path="/clones",
      headers=CT + [("Transfer-Encoding", "chunked")], payload=b"a00001\r\n" + b"x" * 0xa00001 + b"\r\n0\r\n\r\n"))
add(c("framing", "chunked-bad-json", 400, msg("malformed JSON at byte 1: expected a string key"), method="POST", path="/clones",
      headers=CT + [("Transfer-Encoding", "chunked")], payload=b"2\r\n{x\r\n0\r\n\r\n"))
add(c("framing", "chunked-empty", 400, msg("the request body must be a JSON object"), method="POST", path="/clones",
      headers=CT + [("Transfer-Encoding", "chunked")], payload=b"0\r\n\r\n"))
add(c("framing", "chunked-with-content-length", 400, BAD_REQUEST, method="POST", path="/clones",
      headers=CT + [("Transfer-Encoding", "chunked"), ("Content-Length", "4")], payload=b"0\r\n\r\n"))
add(c("framing", "chunked-in-http-1.0", 400, BAD_REQUEST,
      raw=b"POST /prod/clones HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
add(c("framing", "two-content-lengths", 400, BAD_REQUEST, method="POST", path="/clones",
      headers=CT + [("Content-Length", "2"), ("Content-Length", "3")], payload=b"{}x"))
add(c("framing", "negative-content-length", 400, BAD_REQUEST, method="POST", path="/clones",
      headers=CT + [("Content-Length", "-1")], payload=b""))
add(c("framing", "non-numeric-content-length", 400, BAD_REQUEST, method="POST", path="/clones",
      headers=CT + [("Content-Length", "abc")], payload=b""))
add(c("framing", "content-length-plus-sign", 400, BAD_REQUEST, method="POST", path="/clones",
      headers=CT + [("Content-Length", "+2")], payload=b"{}"))
add(c("framing", "content-length-over-10-mib", 413, TOO_LONG, method="POST", path="/clones",
      headers=CT + [("Content-Length", str(10 * 1024 * 1024 + 1))], payload=b""))
add(c("framing", "content-length-2^64", 400, BAD_REQUEST, method="POST", path="/clones",
      headers=CT + [("Content-Length", "18446744073709551616")], payload=b""))
add(c("framing", "lying-content-length-short", 400, msg("malformed JSON: unterminated string"), method="POST",
      path="/clones", headers=CT + [("Content-Length", "5")], payload=b'{"cloneID":"cat-short"}'))
add(c("framing", "expect-100-over-limit", 413, TOO_LONG, method="POST", path="/clones",
      headers=CT + [("Expect", "100-continue"), ("Content-Length", str(11 * 1024 * 1024))], payload=b""))
add(c("framing", "slow-body-bad-json", 400, msg("malformed JSON at byte 22: expected a string key"), method="POST", path="/clones",
      headers=CT, parts=[b'{"cloneID":', b'"cat-slow"', b",", b",}"], pause=0.3))
add(c("framing", "slow-headers", 403, FORBIDDEN, key="bad",
      parts=[b"GET /prod/health HTTP/1.1\r\n", b"Host: a\r\n", b"x-api-key: bad\r\n", b"Connection: close\r\n\r\n"],
      pause=0.3))
add(c("framing", "stalled-body", None, NO_ANSWER, method="POST", path="/clones",
      headers=CT + [("Content-Length", "100")], payload=b'{"cloneID":"cat-stalled"'))
add(c("framing", "stalled-chunked-body", None, NO_ANSWER, method="POST", path="/clones",
      headers=CT + [("Transfer-Encoding", "chunked")], payload=b'10\r\n{"cloneID":'))
add(c("framing", "get-with-body", 200, {"status": "ok"}, headers=CT, payload=b'{"cloneID":"cat-get-body"}'))
add(c("framing", "delete-body-wrong-type", 400, msg("cloneID must be a string"), method="DELETE",
      path="/clone", headers=CT, payload=json_body({"cloneID": 5})))

# -- methods ---------------------------------------------------------------------------------------------
for m in ["TRACE", "CONNECT", "PROPFIND", "MKCOL", "COPY", "MOVE", "LOCK", "PURGE", "FOO", "X" * 100]:
    raw = f"{m} /prod/clones HTTP/1.1\r\nHost: a\r\nx-api-key: @alice\r\n\r\n".encode()
    add(c("methods", m[:12].lower(), 403, MISSING_TOKEN, raw=raw))
add(c("methods", "lower-case-get", 400, BAD_REQUEST, raw=b"get /prod/health HTTP/1.1\r\nHost: a\r\n\r\n"))
add(c("methods", "head-on-health", 403, b"", method="HEAD"))
add(c("methods", "put-on-collection", 403, MISSING_TOKEN, method="PUT", path="/clones", headers=CT, payload=b"{}"))
add(c("methods", "delete-on-collection", 403, MISSING_TOKEN, method="DELETE", path="/clones"))
add(c("methods", "post-on-item", 403, MISSING_TOKEN, method="POST", path="/clones/" + SEED, headers=CT,
      payload=b"{}"))
add(c("methods", "post-on-health", 403, MISSING_TOKEN, method="POST", path="/health"))
add(c("methods", "put-on-part1", 403, MISSING_TOKEN, method="PUT", path="/clone", headers=CT, payload=b"{}"))
add(c("methods", "override-header-ignored", 200, {"status": "ok"}, headers=[("X-HTTP-Method-Override", "DELETE")]))
add(c("methods", "options-unknown-path", 403, MISSING_TOKEN, method="OPTIONS", path="/nowhere", key=None))
add(c("methods", "delete-unknown-path", 403, MISSING_TOKEN, method="DELETE", path="/nowhere"))

# -- path tricks -------------------------------------------------------------------------------------------
for name, path, status, body in [
    ("no-stage", "/../clones", 400, DOT_SEGMENT),
    ("double-stage", "/prod/clones", 403, MISSING_TOKEN),
    ("stage-case", "/../PROD/clones", 400, DOT_SEGMENT),
    ("route-case", "/Clones", 403, MISSING_TOKEN),
    ("trailing-slash", "/clones/", 403, MISSING_TOKEN),
    ("double-slash", "//clones", 403, MISSING_TOKEN),
    ("extra-segment", "/clones/a/b", 403, MISSING_TOKEN),
    ("backslash", "/clones\\x", 403, MISSING_TOKEN),
    ("semicolon", "/clones;x", 403, MISSING_TOKEN),
    ("encoded-route", "/%63lones", 403, MISSING_TOKEN),
    ("dot-segments-to-missing", "/clones/../clones/" + MISSING, 400, DOT_SEGMENT),
    ("escaped-dot-segments", "/clones/%2e%2e/health", 400, DOT_SEGMENT),
    ("dots-out-of-root", "/../../../etc/passwd", 400, BAD_REQUEST),
    ("bad-escape", "/clones/%ZZ", 400, BAD_REQUEST),
    ("escaped-nul", "/clones/%00", 400, BAD_REQUEST),
    ("truncated-escape", "/clones/ab%", 400, BAD_REQUEST),
    ("encoded-slash-missing", "/clones/a%2Fb-" + MISSING, 404, msg(f"cloneID: a/b-{MISSING} not found")),
    ("id-1025-bytes", "/clones/" + "i" * 1025, 400, msg("cloneID must be at most 1024 bytes")),
    ("id-invalid-utf8", "/clones/%FF%FE", 400, msg("the path segment is not valid UTF-8")),
    ("unicode-missing", "/clones/%E2%98%83-" + MISSING, 404, msg(f"cloneID: \u2603-{MISSING} not found")),
    # A '#' sent on the request line is part of the path (clients never send fragments).
    ("fragment", "/clones/" + MISSING + "#x", 404, msg(f"cloneID: {MISSING}#x not found")),
    ("query-on-missing", "/clone?cloneID=" + MISSING, 404, {"Message": f"cloneID: {MISSING} not found"}),
    ("query-empty-id", "/clone?cloneID=", 400, msg("cloneID must not be empty")),
    ("query-no-id", "/clone", 400, msg("cloneID query parameter is required")),
    ("query-bad-escape", "/clone?cloneID=%ZZ", 400, msg("malformed percent-encoding in the query string")),
    ("query-invalid-utf8", "/clone?cloneID=%FF", 400, msg("the query string is not valid UTF-8")),
    ("query-nul", "/clone?cloneID=a%00b", 400, msg("the query string is not valid UTF-8")),
    ("query-101-params", "/health?" + "&".join(f"p{i}=1" for i in range(101)), 400, msg("too many query parameters")),
    ("query-9000-bytes", "/health?x=" + "a" * 9000, 414, URI_TOO_LONG),
    ("deep-bad-value", "/health?deep=2", 400, msg("deep must be 1 or 0")),
]:
    add(c("paths", name, status, body, path=path))

# -- If-Match -----------------------------------------------------------------------------------------------
ITEM = "/clones/" + SEED
for name, value in [("garbage", "garbage"), ("unquoted-number", "1"), ("lone-quote", '"'),
                    ("empty", ""), ("weak-garbage", "W/x"), ("trailing-comma", '"1",')]:
    add(c("if-match", "put-" + name, 400, msg("malformed If-Match header"), method="PUT", path=ITEM,
          headers=CT + [("If-Match", value)], payload=b'{"status":"x"}'))
add(c("if-match", "patch-malformed", 400, msg("malformed If-Match header"), method="PATCH", path=ITEM,
      headers=[("Content-Type", "application/merge-patch+json"), ("If-Match", "nope")], payload=b'{"status":"x"}'))
add(c("if-match", "delete-malformed", 400, msg("malformed If-Match header"), method="DELETE", path=ITEM,
      headers=[("If-Match", "nope")]))
# Well-formed tags that name no version of the item: the write does not hold.
for name, value in [("stale", '"2"'), ("zero", '"0"'), ("weak-stale", 'W/"7"'), ("list-stale", '"3", "4"'),
                    ("negative", '"-1"'), ("huge-number", '"' + "9" * 40 + '"'), ("backslash-u", '"1\\u0000"')]:
    add(c("if-match", "put-" + name, 412, msg("If-Match does not match the item's current ETag"), method="PUT",
          path=ITEM, headers=CT + [("If-Match", value)], payload=b'{"status":"x"}'))
add(c("if-match", "patch-stale", 412, msg("If-Match does not match the item's current ETag"), method="PATCH",
      path=ITEM, headers=[("Content-Type", "application/merge-patch+json"), ("If-Match", '"9"')],
      payload=b'{"status":"x"}'))
add(c("if-match", "delete-stale", 412, msg("If-Match does not match the item's current ETag"), method="DELETE",
      path=ITEM, headers=[("If-Match", '"5"')]))
add(c("if-match", "star-on-missing-put", 412, msg("If-Match does not match the item's current ETag"),
      method="PUT", path="/clones/" + MISSING, headers=CT + [("If-Match", "*")], payload=b"{}"))
add(c("if-match", "delete-missing", 404, msg(f"cloneID: {MISSING} not found"), method="DELETE",
      path="/clones/" + MISSING, headers=[("If-Match", '"1"')]))
# nginx refuses a second If-Match line itself (one of its unique headers).
add(c("if-match", "two-headers", 400, BAD_REQUEST, method="DELETE", path=ITEM,
      headers=[("If-Match", '"5"'), ("If-Match", '"6"')]))

# -- cursors and listing parameters --------------------------------------------------------------------------
for name, query in [("garbage", "cursor=@@@"), ("no-dot", "cursor=abc"), ("two-dots", "cursor=a.b.c"),
                    ("empty-parts", "cursor=."), ("bad-tag", "cursor=eyJ0IjoiYyJ9.AAAA"),
                    ("forged", "cursor=eyJ0IjoiZ3ctIiwicyI6bnVsbCwiayI6eyJjbG9uZUlEIjp7IlMiOiJ4In19fQ."
                               "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                    ("padding", "cursor=YQ==.YQ=="), ("long", "cursor=" + "A" * 8000 + ".A")]:
    add(c("cursors", name, 400, msg("invalid cursor"), path="/clones?" + query))
add(c("cursors", "over-the-uri-limit", 414, URI_TOO_LONG, path="/clones?cursor=" + "A" * 9000))
for name, query in [("limit-zero", "limit=0"), ("limit-negative", "limit=-1"), ("limit-1001", "limit=1001"),
                    ("limit-text", "limit=abc"), ("limit-float", "limit=1.5"), ("limit-exp", "limit=1e3"),
                    ("limit-empty", "limit="), ("limit-huge", "limit=99999999999999999999"),
                    ("limit-plus", "limit=+5"), ("limit-space", "limit=%205")]:
    add(c("cursors", name, 400, msg("limit must be an integer from 1 to 1000"), path="/clones?" + query))

# -- request bodies and attribute names (DynamoDB's rules where dynalite is lenient) ---------------------------
def post(name, body, status, expect, path="/clones", method="POST", ctype="application/json"):
    add(c("bodies", name, status, expect, method=method, path=path, headers=[("Content-Type", ctype)],
          payload=body if isinstance(body, bytes) else json_body(body)))


post("empty-attribute-name", {"cloneID": "cat-n1", "": 1}, 400,
     msg("an attribute name is empty; DynamoDB's attribute names are 1 to 65535 bytes"))
post("empty-name-in-map", {"cloneID": "cat-n2", "m": {"": 1}}, 400,
     msg("attribute m: an attribute name is empty; DynamoDB's attribute names are 1 to 65535 bytes"))
post("name-65536-bytes", {"cloneID": "cat-n3", "n" * 65536: 1}, 400,
     msg("an attribute name is 65536 bytes; DynamoDB's attribute names are 1 to 65535 bytes"))
post("name-70000-bytes-in-map", {"cloneID": "cat-n4", "m": {"n" * 70000: 1}}, 400,
     msg("attribute m: an attribute name is 70000 bytes; DynamoDB's attribute names are 1 to 65535 bytes"))
post("put-empty-name", {"": "x"}, 400, msg("an attribute name is empty; DynamoDB's attribute names are 1 to 65535 bytes"),
     path="/clones/cat-n5", method="PUT")
post("part1-empty-name", {"cloneID": "cat-n6", "": 1}, 400,
     msg("an attribute name is empty; DynamoDB's attribute names are 1 to 65535 bytes"), path="/clone")
post("part1-update-empty-name-in-value", {"cloneID": SEED, "updateKey": "m", "updateValue": {"": 1}}, 400,
     msg("updateValue: an attribute name is empty; DynamoDB's attribute names are 1 to 65535 bytes"),
     path="/clone", method="PATCH")
post("merge-patch-empty-name", {"": 1}, 400,
     msg("an attribute name is empty; DynamoDB's attribute names are 1 to 65535 bytes"), path=ITEM,
     method="PATCH", ctype="application/merge-patch+json")
post("update-key-empty", {"cloneID": SEED, "updateKey": "", "updateValue": 1}, 400,
     msg("updateKey must be a non-empty string"), path="/clone", method="PATCH")
post("update-key-is-cloneID", {"cloneID": SEED, "updateKey": "cloneID", "updateValue": "x"}, 400,
     msg("cloneID cannot be updated"), path="/clone", method="PATCH")
post("update-key-version", {"cloneID": SEED, "updateKey": "version", "updateValue": 5}, 400,
     msg("version is managed by the server and cannot be updated"), path="/clone", method="PATCH")
post("update-value-missing", {"cloneID": SEED, "updateKey": "a"}, 400, msg("updateValue is required"),
     path="/clone", method="PATCH")
post("update-missing-item", {"cloneID": MISSING, "updateKey": "a", "updateValue": 1}, 404,
     msg(f"cloneID: {MISSING} not found"), path="/clone", method="PATCH")
post("nesting-32-json-levels", b'{"cloneID":"cat-deep","d":' + b"[" * 32 + b"1" + b"]" * 32 + b"}", 400,
     msg("JSON nested deeper than 32 levels"))
post("number-too-big", b'{"cloneID":"cat-num1","n":1E+126}', 400,
     msg("attribute n: number 1E+126 is out of DynamoDB's range (1E-130 to 9.9999999999999999999999999999999999999E+125)"))
post("number-too-small", b'{"cloneID":"cat-num2","n":1E-131}', 400, msg("attribute n: number 1E-131 is out of DynamoDB's range (1E-130 to 9.9999999999999999999999999999999999999E+125)"))
post("number-39-digits", b'{"cloneID":"cat-num3","n":123456789012345678901234567890123456789}', 400, msg("attribute n: number has more than 38 significant digits"))
post("number-in-list", b'{"cloneID":"cat-num4","l":[1,2,1E+999]}', 400, msg("attribute l[2]: number 1E+999 is out of DynamoDB's range (1E-130 to 9.9999999999999999999999999999999999999E+125)"))
post("item-over-400-kb", {"cloneID": "cat-big", "blob": "x" * (410 * 1024)}, 400, msg("the item is 419933 bytes; DynamoDB limits an item to 400 KB (409600 bytes, attribute names included)"))
post("invalid-utf8", b'{"cloneID":"cat-utf","s":"\xff\xfe"}', 400, msg("invalid UTF-8 in JSON at byte 26"))
post("overlong-utf8", b'{"cloneID":"cat-utf2","s":"\xc0\xaf"}', 400, msg("invalid UTF-8 in JSON at byte 27"))
post("surrogate-escape", b'{"cloneID":"cat-sur","s":"\\ud800"}', 400, msg("unpaired surrogate \\u escape in JSON string at byte 26"))
post("raw-nul", b'{"cloneID":"cat-nul","s":"a\x00b"}', 400, msg("NUL byte in JSON at byte 27"))
post("trailing-garbage", b'{"cloneID":"cat-tg"} x', 400, msg("malformed JSON at byte 21: expected the end of the input after the value"))
post("two-documents", b'{"cloneID":"cat-2"}{"cloneID":"cat-3"}', 400, msg("malformed JSON at byte 19: expected the end of the input after the value"))
post("bom", b'\xef\xbb\xbf{"cloneID":"cat-bom"}', 400, msg("malformed JSON at byte 0: expected a JSON value"))
post("not-an-object", b'["cloneID","cat-arr"]', 400, msg("the request body must be a JSON object"))
post("json-null", b"null", 400, msg("the request body must be a JSON object"))
post("json-string", b'"cat"', 400, msg("the request body must be a JSON object"))
post("trailing-comma", b'{"cloneID":"cat-tc",}', 400, msg("malformed JSON at byte 20: expected a string key"))
post("single-quotes", b"{'cloneID':'cat-sq'}", 400, msg("malformed JSON at byte 1: expected a string key"))
post("comment", b'{"cloneID":"cat-cm" /* x */}', 400, msg("malformed JSON at byte 20: expected ',' or '}'"))
post("nan", b'{"cloneID":"cat-nan","n":NaN}', 400, msg("malformed JSON at byte 25: expected a JSON value"))
post("infinity", b'{"cloneID":"cat-inf","n":Infinity}', 400, msg("malformed JSON at byte 25: expected a JSON value"))
post("leading-zero", b'{"cloneID":"cat-lz","n":012}', 400, msg("malformed number at byte 24"))
post("hex-number", b'{"cloneID":"cat-hex","n":0x10}', 400, msg("malformed JSON at byte 26: expected ',' or '}'"))
post("cloneID-number", {"cloneID": 5}, 400, msg("cloneID must be a string"))
post("cloneID-null", {"cloneID": None}, 400, msg("cloneID must be a string"))
post("cloneID-empty", {"cloneID": ""}, 400, msg("cloneID must not be empty"))
post("cloneID-object", {"cloneID": {"S": "x"}}, 400, msg("cloneID must be a string"))
post("cloneID-1025-bytes", {"cloneID": "c" * 1025}, 400, msg("cloneID must be at most 1024 bytes"))
post("part1-no-cloneID", {"status": "x"}, 400, msg("cloneID is required"), path="/clone")
post("part1-cloneID-array", {"cloneID": ["a"]}, 400, msg("cloneID must be a string"), path="/clone")
post("create-existing", {"cloneID": SEED}, 409, msg(f"cloneID: {SEED} already exists"))
post("put-id-mismatch", {"cloneID": "other"}, 400, msg("cloneID cannot be updated: it must be absent or equal the path's"), path=ITEM, method="PUT")
post("merge-patch-cloneID", {"cloneID": "other"}, 400, msg("cloneID cannot be updated: it must be absent or equal the path's"), path=ITEM, method="PATCH",
     ctype="application/merge-patch+json")
post("merge-patch-not-object", b"[1]", 400, msg("the request body must be a JSON object"), path=ITEM, method="PATCH", ctype="application/merge-patch+json")
post("merge-patch-missing", {"a": 1}, 404, msg(f"cloneID: {MISSING} not found"), path="/clones/" + MISSING,
     method="PATCH", ctype="application/merge-patch+json")
post("delete-part1-missing", {"cloneID": MISSING}, 404, msg(f"cloneID: {MISSING} not found"), path="/clone", method="DELETE")
