#!/usr/bin/python3
# ddb_proxy.py — loopback reverse proxy in front of a DynamoDB-protocol server (dynalite) for the tests.
# Checks every request's SigV4 signature with botocore as DynamoDB would, and fails requests on command.
"""
Usage:
  ddb_proxy.py --listen-port P --upstream http://127.0.0.1:PORT --access-key-id K --secret-access-key S
               [--session-token T] [--region us-east-1] [--service dynamodb] [--max-skew-seconds 900]
               [--verbose]

P = 0 picks a free port. The first stdout line is always "PORT <n>" (flushed); nothing else goes to stdout,
so a parent that stops reading after that line never blocks the proxy. Logs go to stderr (only
rejections and upstream failures unless --verbose). Exits when stdin reaches EOF, or on SIGTERM/SIGINT.

Every request outside /__proxy/ is a DynamoDB request: its signature is recomputed with botocore from
what was received (method, path and query, the headers named in SignedHeaders, body, X-Amz-Date) and
the credentials given here. A bad one gets DynamoDB's HTTP 400 error shape and is not forwarded; a good
one is forwarded on a kept-alive upstream connection and the answer relayed (status, headers, body).

Control, on the same port, never signed and never counted:
  POST /__proxy/fault  {"mode": "throttle"|"http500"|"http503"|"close"|"delay"|"lose_answer"|"condition_fail"|"hold",
                        "count": N (1), "delay_ms": M (delay only), "operation": "PutItem"... (optional)}
                        the next N correctly signed requests (of that operation only, when given) fail that
                        way; a new command replaces a pending one. throttle = 400
                        ProvisionedThroughputExceeded, close = connection closed with no answer, delay = wait
                        M ms, then forward, lose_answer = forwarded and done upstream, then closed before the
                        answer, condition_fail = 400 ConditionalCheckFailedException without forwarding (only
                        PutItem, UpdateItem and DeleteItem with a ConditionExpression, of a body up to
                        LOG_BODY_MAX bytes, take this fault), hold = wait until /__proxy/release (at most
                        30 s), then forward: a test sees how many requests its client has in flight at once.
  POST /__proxy/scan_limit  {"limit": N}  every Scan is forwarded with Limit at most N (small pages on a small
                        table); 0 turns it off.
  GET  /__proxy/stats  {"requests": N, "verified": N, "rejected": N, "faults_left": N, "seq": N, "held": N,
                        "max_held": N}
  POST /__proxy/release  every held request goes on.
  GET  /__proxy/log?since=S  {"seq": N, "entries": [...]}: the correctly signed DynamoDB requests after
                        sequence number S (at most the last LOG_KEEP), each {"seq", "time" (the proxy's
                        monotonic clock, s), "operation" ("GetItem"...), "fault" (mode or null), "body" (the
                        request's JSON, null when over LOG_BODY_MAX bytes)}. Take "seq" from stats first.
  POST /__proxy/reset  counters to zero, pending faults and the scan limit dropped, held requests released (the
                        log and its sequence numbers are kept, so a test's "since" stays valid).
"""
import argparse
import collections
import datetime
import hashlib
import hmac
import http.client
import ipaddress
import json
import os
import re
import secrets
import signal
import string
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

MAX_BODY_BYTES = 16 * 1024 * 1024 + 65536  # DynamoDB's request limit is 16 MB
MAX_FAULT_COUNT = 100000
MAX_DELAY_MS = 60000
CONNECTION_IDLE_S = 60         # a kept-alive client connection with nothing to say for this long is closed
UPSTREAM_TIMEOUT_S = 30
LISTEN_BACKLOG = 64
JSON_1_0 = "application/x-amz-json-1.0"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "expect", "content-length"}
# lose_answer: DynamoDB does the work, then the connection drops before the answer (the ambiguous case).
FAULT_MODES = ("throttle", "http500", "http503", "close", "delay", "lose_answer", "condition_fail", "hold")
# condition_fail: a conditional write loses, as if another writer got in first (optimistic-lock tests).
CONDITIONAL_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
LOG_KEEP = 5000               # requests remembered for /__proxy/log
LOG_BODY_MAX = 16 * 1024      # bodies larger than this are logged as null (and take no condition_fail)

CORAL = "com.amazon.coral.service#"
DDB = "com.amazonaws.dynamodb.v20120810#"
FAULT_ANSWERS = {
    "throttle": (400, DDB + "ProvisionedThroughputExceededException",
                 "The level of configured provisioned throughput for the table was exceeded. "
                 "Consider increasing your provisioning level with the UpdateTable API."),
    "http500": (500, DDB + "InternalServerError", "Internal server error"),
    "http503": (503, DDB + "ServiceUnavailableException",
                "The request has failed due to a temporary failure of the server."),
    "condition_fail": (400, DDB + "ConditionalCheckFailedException", "The conditional request failed"),
}
AUTHORIZATION_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request,\s*"
    r"SignedHeaders=([a-z0-9!#$%&'*+.^_`|~;-]+),\s*Signature=([0-9a-f]{64})$")
AMZ_DATE_RE = re.compile(r"^\d{8}T\d{6}Z$")


class Rejection(Exception):
    """A request DynamoDB would refuse before looking at it: (status, __type, message)."""

    def __init__(self, error_type, message, status=400):
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


class ProxyState:
    """Counters and the pending fault, shared by every connection's thread."""

    HOLD_CAP_S = 30

    def __init__(self):
        self._lock = threading.Lock()
        self._released = threading.Condition(self._lock)
        self._release_generation = 0
        self._held = 0
        self.reset()

        self._log = collections.deque(maxlen=LOG_KEEP)
        self._seq = 0

    def reset(self):
        with self._lock:
            self._requests = self._verified = self._rejected = 0
            self._fault_mode, self._faults_left, self._delay_ms = None, 0, 0
            self._fault_operation = None
            self._scan_limit = 0
            self._max_held = self._held
            self._release_generation += 1
            self._released.notify_all()

    def hold(self):
        """Wait for the next release (bounded), counting this request among those held at once."""
        with self._lock:
            generation = self._release_generation
            self._held += 1
            self._max_held = max(self._max_held, self._held)
            self._released.wait_for(lambda: self._release_generation != generation, timeout=self.HOLD_CAP_S)
            self._held -= 1

    def release(self):
        with self._lock:
            self._release_generation += 1
            self._released.notify_all()

    def set_scan_limit(self, limit):
        with self._lock:
            self._scan_limit = limit

    def scan_limit(self):
        with self._lock:
            return self._scan_limit

    def record(self, operation, request, fault):
        """Remember one correctly signed request (request: its parsed JSON body, or None)."""
        with self._lock:
            self._seq += 1
            self._log.append({"seq": self._seq, "time": time.monotonic(), "operation": operation,
                              "fault": fault, "body": request})

    def log_since(self, since):
        with self._lock:
            return {"seq": self._seq, "entries": [e for e in self._log if e["seq"] > since]}

    def count_request(self):
        with self._lock:
            self._requests += 1

    def count_verdict(self, verified):
        with self._lock:
            if verified:
                self._verified += 1
            else:
                self._rejected += 1

    def set_fault(self, mode, count, delay_ms, operation=None):
        with self._lock:
            self._fault_mode, self._faults_left, self._delay_ms = mode, count, delay_ms
            self._fault_operation = operation

    def take_fault(self, operation, request):
        """The fault this request must suffer, as (mode, delay_ms), or None."""
        with self._lock:
            if self._faults_left <= 0:
                return None
            if self._fault_operation and operation != self._fault_operation:
                return None
            if self._fault_mode == "condition_fail" and not (
                    operation in CONDITIONAL_WRITES and isinstance(request, dict)
                    and request.get("ConditionExpression")):
                return None
            self._faults_left -= 1
            return self._fault_mode, self._delay_ms

    def stats(self):
        with self._lock:
            return {"requests": self._requests, "verified": self._verified, "rejected": self._rejected,
                    "faults_left": self._faults_left, "seq": self._seq, "held": self._held,
                    "max_held": self._max_held}


class ReceivedHeadersAuth(SigV4Auth):
    """botocore's SigV4Auth, but signing exactly the headers the client listed in SignedHeaders, as DynamoDB
    does: stock headers_to_sign drops User-Agent and friends, which a client may legitimately sign."""

    def __init__(self, credentials, service, region, signed_headers):
        super().__init__(credentials, service, region)
        self._signed_headers = signed_headers

    def headers_to_sign(self, request):
        return self._signed_headers


def as_signed_text(value):
    """http.server decodes header bytes as latin-1; a client signed the bytes, so give botocore the UTF-8
    text those bytes spell whenever they do."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


class Verifier:
    def __init__(self, access_key_id, secret_access_key, session_token, region, service, max_skew_s):
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.session_token = session_token or None
        self.region = region
        self.service = service
        self.max_skew_s = max_skew_s

    def verify(self, method, raw_path, headers, body):
        """Raise Rejection unless the request is signed with our credentials; headers is a Message."""
        authorizations = headers.get_all("Authorization") or []
        if not authorizations:
            raise Rejection(CORAL + "MissingAuthenticationTokenException", "Request is missing Authentication Token")
        m = AUTHORIZATION_RE.match(authorizations[0].strip()) if len(authorizations) == 1 else None
        if not m:
            raise Rejection(CORAL + "IncompleteSignatureException",
                            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                            "parameters, once each, in AWS4-HMAC-SHA256 form.")
        access_key, scope_date, region, service, signed_list, signature = m.groups()
        if access_key != self.access_key_id:
            raise Rejection(CORAL + "UnrecognizedClientException",
                            "The security token included in the request is invalid.")
        tokens = headers.get_all("X-Amz-Security-Token") or []
        if (self.session_token is None and tokens) or (
                self.session_token is not None and tokens != [self.session_token]):
            raise Rejection(CORAL + "UnrecognizedClientException",
                            "The security token included in the request is invalid.")
        if region != self.region:
            raise Rejection(CORAL + "InvalidSignatureException",
                            f"Credential should be scoped to a valid region, not '{region}'.")
        if service != self.service:
            raise Rejection(CORAL + "InvalidSignatureException",
                            f"Credential should be scoped to correct service: '{self.service}'.")
        amz_dates = headers.get_all("X-Amz-Date") or []
        if len(amz_dates) != 1 or not AMZ_DATE_RE.match(amz_dates[0].strip()):
            raise Rejection(CORAL + "IncompleteSignatureException",
                            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        amz_date = amz_dates[0].strip()
        if scope_date != amz_date[:8]:
            raise Rejection(CORAL + "InvalidSignatureException",
                            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                            f"from HTTP: '{scope_date}' != '{amz_date[:8]}', from '{amz_date}'.")
        self._check_skew(amz_date)
        names = signed_list.split(";")
        if names != sorted(set(names)) or "host" not in names or "x-amz-date" not in names:
            raise Rejection(CORAL + "InvalidSignatureException",
                            "SignedHeaders must be sorted, unique, and include host and x-amz-date.")
        content_sha = headers.get_all("X-Amz-Content-Sha256") or []
        if content_sha and content_sha != [hashlib.sha256(body).hexdigest()]:
            raise Rejection(CORAL + "InvalidSignatureException",
                            "The provided 'x-amz-content-sha256' header does not match what was computed.")

        signed = HTTPHeaders()
        for name in names:
            values = headers.get_all(name)
            if not values:
                raise Rejection(CORAL + "InvalidSignatureException",
                                f"The request signature we calculated does not match the signature you "
                                f"provided: signed header '{name}' is not in the request.")
            for value in values:
                signed[name] = as_signed_text(value)
        # Only the path and query of this URL are read: the host comes from the received Host header.
        request = AWSRequest(method=method, url="http://signed-request" + raw_path, data=body)
        request.context["timestamp"] = amz_date
        auth = ReceivedHeadersAuth(Credentials(self.access_key_id, self.secret_access_key, self.session_token),
                                   self.service, self.region, signed)
        canonical_request = auth.canonical_request(request)
        string_to_sign = auth.string_to_sign(request, canonical_request)
        expected = auth.signature(string_to_sign, request)
        if not hmac.compare_digest(expected, signature):
            raise Rejection(CORAL + "InvalidSignatureException",
                            "The request signature we calculated does not match the signature you provided. "
                            "Check your AWS Secret Access Key and signing method. Consult the service "
                            "documentation for details.\n\nThe Canonical String for this request should have "
                            f"been\n'{canonical_request}'\n\nThe String-to-Sign should have been\n"
                            f"'{string_to_sign}'\n")

    def _check_skew(self, amz_date):
        signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        now = datetime.datetime.now(datetime.timezone.utc)
        skew = (now - signed_at).total_seconds()
        if abs(skew) > self.max_skew_s:
            fmt = "%Y%m%dT%H%M%SZ"
            raise Rejection(CORAL + "InvalidSignatureException",
                            f"Signature {'expired' if skew > 0 else 'not yet current'}: {amz_date} is "
                            f"{'now earlier' if skew > 0 else 'still later'} than "
                            f"{(now - datetime.timedelta(seconds=self.max_skew_s)).strftime(fmt)} "
                            f"({now.strftime(fmt)} - {self.max_skew_s // 60} min.)")


def request_id():
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(52))


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, framed by Content-Length
    # Small answers must not wait for the client's delayed ACK (Nagle): 40 ms a call otherwise.
    disable_nagle_algorithm = True
    timeout = CONNECTION_IDLE_S
    server_version = "ddb-proxy"

    # ---- plumbing ----

    def log_message(self, format, *args):  # noqa: A002 (the base class names it so)
        if self.server.verbose:
            sys.stderr.write("ddb_proxy: %s %s\n" % (self.address_string(), format % args))

    def log_error(self, format, *args):  # noqa: A002
        sys.stderr.write("ddb_proxy: %s %s\n" % (self.address_string(), format % args))

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError) as e:
            # The client gave up (its timeout beat a delay fault, say): there is no one left to answer.
            self.close_connection = True
            self.log_message("client went away: %r", e)

    def finish(self):
        upstream = getattr(self, "_upstream", None)
        if upstream is not None:
            upstream.close()
        super().finish()

    def read_body(self):
        """The request body, or None after answering 411/413/400 (the connection is then closed)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.strip().isdigit():
            self.close_connection = True
            self.send_json(400, {"message": "bad Content-Length"})
            return None
        n = int(length)
        if n > MAX_BODY_BYTES:
            self.close_connection = True
            self.send_json(413, {"message": f"body over {MAX_BODY_BYTES} bytes"})
            return None
        data = self.rfile.read(n)
        if len(data) != n:
            self.close_connection = True
            return None
        return data

    def _read_chunked(self):
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                self.send_json(400, {"message": "bad chunk size"})
                return None
            total += size
            if total > MAX_BODY_BYTES:
                self.close_connection = True
                self.send_json(413, {"message": f"body over {MAX_BODY_BYTES} bytes"})
                return None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers, unused
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def send_json(self, status, obj):
        """The proxy's own answers (control commands, its own failures), plain JSON."""
        data = json.dumps(obj, separators=(",", ":")).encode("utf-8")
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.log_request(status, len(data))

    def send_ddb_error(self, status, error_type, message):
        """An error exactly where DynamoDB would put it: JSON 1.0 body, request id, body checksum."""
        data = json.dumps({"__type": error_type, "message": message}, separators=(",", ":")).encode("utf-8")
        self.send_response_only(status)
        self.send_header("x-amzn-RequestId", request_id())
        self.send_header("x-amz-crc32", str(zlib.crc32(data)))
        self.send_header("Content-Type", JSON_1_0)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.log_request(status, len(data))

    # ---- dispatch ----

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def dispatch(self):
        body = self.read_body()
        if body is None:
            return
        path = urlsplit(self.path).path if self.path.startswith("/") else self.path
        if path.startswith("/__proxy/"):
            self.control(path, body, urlsplit(self.path).query)
        else:
            self.proxy(body)

    def control(self, path, body, query=""):
        state = self.server.state
        if path == "/__proxy/stats" and self.command == "GET":
            self.send_json(200, state.stats())
        elif path == "/__proxy/release" and self.command == "POST":
            state.release()
            self.send_json(200, state.stats())
        elif path == "/__proxy/log" and self.command == "GET":
            try:
                since = int(parse_qs(query).get("since", ["0"])[-1])
            except ValueError:
                self.send_json(400, {"message": "since must be an integer"})
                return
            self.send_json(200, state.log_since(since))
        elif path == "/__proxy/scan_limit" and self.command == "POST":
            try:
                cmd = json.loads(body or b"null")
                limit = cmd["limit"]
                if type(limit) is not int or not 0 <= limit <= 1000000:
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                self.send_json(400, {"message": 'scan_limit takes {"limit": N}, N from 0 (off) up'})
                return
            state.set_scan_limit(limit)
            self.send_json(200, {"limit": limit})
        elif path == "/__proxy/reset" and self.command == "POST":
            state.reset()
            self.send_json(200, state.stats())
        elif path == "/__proxy/fault" and self.command == "POST":
            try:
                mode, count, delay_ms, operation = parse_fault(body)
            except ValueError as e:
                self.send_json(400, {"message": str(e)})
                return
            state.set_fault(mode, count, delay_ms, operation)
            self.send_json(200, {"mode": mode, "count": count, "delay_ms": delay_ms, "operation": operation,
                                 "faults_left": state.stats()["faults_left"]})
        else:
            self.send_json(404, {"message": f"no proxy command {self.command} {path}"})

    def proxy(self, body):
        state = self.server.state
        state.count_request()
        try:
            if not self.path.startswith("/"):
                raise Rejection(CORAL + "SerializationException", "request target must be a path")
            self.server.verifier.verify(self.command, self.path, self.headers, body)
        except Rejection as r:
            state.count_verdict(False)
            self.log_error("rejected %s %s: %s", self.command, self.path, r.message.split("\n")[0])
            self.send_ddb_error(r.status, r.error_type, r.message)
            return
        state.count_verdict(True)

        operation = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
        request = None
        if len(body) <= LOG_BODY_MAX:
            try:
                request = json.loads(body)
            except ValueError:
                request = None
        fault = state.take_fault(operation, request)
        state.record(operation, request, fault[0] if fault else None)
        limit = state.scan_limit()
        if limit and operation == "Scan" and isinstance(request, dict):
            body = json.dumps(dict(request, Limit=min(limit, request.get("Limit") or limit))).encode()
        if fault:
            mode, delay_ms = fault
            if mode == "close":
                self.close_connection = True
                return
            if mode == "lose_answer":
                self.forward(body, deliver=False)
                return
            if mode == "delay":
                time.sleep(delay_ms / 1000.0)
            elif mode == "hold":
                state.hold()
            else:
                self.send_ddb_error(*FAULT_ANSWERS[mode])
                return
        self.forward(body)

    # ---- upstream ----

    def forward(self, body, deliver=True):
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        try:
            status, reason, resp_headers, data = self.upstream_exchange(headers, body)
        except (OSError, http.client.HTTPException) as e:
            self.log_error("upstream failed: %r", e)
            self.close_connection = True
            self.send_json(502, {"message": f"ddb_proxy: upstream failed: {e!r}"})
            return
        if not deliver:
            self.close_connection = True
            return
        self.send_response_only(status, reason)
        for name, value in resp_headers:
            if name.lower() not in HOP_BY_HOP and name.lower() not in ("date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.log_request(status, len(data))

    def upstream_exchange(self, headers, body):
        """One exchange on this connection's kept-alive upstream connection. A reused connection the
        upstream has meanwhile closed (dynalite drops idle ones after 5 s) fails before the request is
        read, so it is retried once on a fresh one."""
        for attempt in (1, 2):
            conn = getattr(self, "_upstream", None)
            reused = conn is not None
            if conn is None:
                conn = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port,
                                                  timeout=UPSTREAM_TIMEOUT_S)
                self._upstream = conn
            try:
                conn.request(self.command, self.path, body=body, headers=dict(headers))
                resp = conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    conn.close()
                    self._upstream = None
                return resp.status, resp.reason, resp.getheaders(), data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                self._upstream = None
                if not reused or attempt == 2:
                    raise
            except BaseException:
                conn.close()
                self._upstream = None
                raise
        raise AssertionError("unreachable")


def parse_fault(body):
    try:
        cmd = json.loads(body or b"null")
    except ValueError:
        raise ValueError("fault command must be a JSON object") from None
    if not isinstance(cmd, dict):
        raise ValueError("fault command must be a JSON object")
    unknown = set(cmd) - {"mode", "count", "delay_ms", "operation"}
    if unknown:
        raise ValueError(f"unknown fault fields: {sorted(unknown)}")
    mode = cmd.get("mode")
    if mode not in FAULT_MODES:
        raise ValueError(f"mode must be one of {list(FAULT_MODES)}")
    count = cmd.get("count", 1)
    if type(count) is not int or not 1 <= count <= MAX_FAULT_COUNT:
        raise ValueError(f"count must be an integer from 1 to {MAX_FAULT_COUNT}")
    delay_ms = cmd.get("delay_ms", 0 if mode != "delay" else None)
    if type(delay_ms) is not int or not 0 <= delay_ms <= MAX_DELAY_MS:
        raise ValueError(f"delay_ms must be an integer from 0 to {MAX_DELAY_MS}"
                         + (" (required for delay)" if mode == "delay" else ""))
    operation = cmd.get("operation")
    if operation is not None and (type(operation) is not str or not re.fullmatch(r"[A-Za-z]{1,64}", operation)):
        raise ValueError("operation must be a DynamoDB operation name such as PutItem")
    return mode, count, delay_ms, operation


def loopback_upstream(url):
    """(host, port) of an http:// upstream on a loopback address; anything else is refused."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise ValueError("--upstream must look like http://127.0.0.1:PORT")
    host = parts.hostname
    if host != "localhost":
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise ValueError
        except ValueError:
            raise ValueError("--upstream must be a loopback address") from None
    return host, parts.port or 80


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True  # a client's idle kept-alive connection must not hold up exit
    request_queue_size = LISTEN_BACKLOG


def watch_stdin(stop):
    """The parent closing our stdin (or dying) is the signal to go: no orphaned proxies. Reads the raw
    descriptor: a thread blocked in sys.stdin's buffered reader holds its lock and aborts interpreter exit."""
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    stop.set()


def main(argv=None):
    ap = argparse.ArgumentParser(description="SigV4-verifying, fault-injecting proxy for DynamoDB tests")
    ap.add_argument("--listen-port", type=int, required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--access-key-id", required=True)
    ap.add_argument("--secret-access-key", required=True)
    ap.add_argument("--session-token")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--service", default="dynamodb")
    ap.add_argument("--max-skew-seconds", type=int, default=900, help="DynamoDB allows 15 minutes")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args(argv)
    if not 0 <= args.listen_port <= 65535:
        ap.error("--listen-port must be 0 to 65535")
    try:
        upstream_host, upstream_port = loopback_upstream(args.upstream)
    except ValueError as e:
        ap.error(str(e))

    server = ProxyServer(("127.0.0.1", args.listen_port), ProxyHandler)
    server.state = ProxyState()
    server.verifier = Verifier(args.access_key_id, args.secret_access_key, args.session_token, args.region,
                               args.service, args.max_skew_seconds)
    server.upstream_host, server.upstream_port = upstream_host, upstream_port
    server.verbose = args.verbose
    sys.stdout.write(f"PORT {server.server_address[1]}\n")
    sys.stdout.flush()

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threading.Thread(target=watch_stdin, args=(stop,), daemon=True, name="stdin-watch").start()
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                               name="serve")
    serving.start()
    while not stop.wait(0.5):  # a timed wait so the signal handler runs promptly
        if not serving.is_alive():
            break
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
