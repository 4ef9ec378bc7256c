# raw_client.py — byte-exact HTTP/1.x and HTTP/2 clients for the gateway tests, over TLS on loopback.
# http.client and curl repair or refuse malformed requests; these send exactly what a hostile client would.
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events


class RawResponse:
    def __init__(self, status, headers, body, raw=b"", closed_without_answer=False):
        self.status = status
        self.headers = headers  # lower-case name -> last value
        self.body = body
        self.raw = raw
        self.closed_without_answer = closed_without_answer

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:200]!r}>"


def tls_context(alpn=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def parse_http1(data):
    """The first response in data (status line, headers, body by Content-Length, else to the end)."""
    if not data:
        return RawResponse(None, {}, b"", data, closed_without_answer=True)
    head, sep, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    if status == 100:  # Expect: 100-continue; the real answer follows
        return parse_http1(rest)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    body = rest[:int(length)] if length is not None else rest
    return RawResponse(status, headers, body, data)


def send_http1(port, parts, timeout=15, pause=0.0):
    """Send parts (bytes, or a list of bytes sent one by one with pause seconds between) over one TLS
    connection, read until the server closes or timeout, and parse the first response."""
    if isinstance(parts, bytes):
        parts = [parts]
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    tls = tls_context().wrap_socket(raw)
    data = b""
    try:
        for i, part in enumerate(parts):
            if i and pause:
                time.sleep(pause)
            try:
                tls.sendall(part)
            except OSError:
                break  # the server answered and closed early; read what it said
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = tls.recv(65536)
            except (socket.timeout, ssl.SSLError, OSError):
                break
            if not chunk:
                break
            data += chunk
            r = parse_http1(data) if b"\r\n\r\n" in data else None
            if r and r.header("content-length") is not None and len(r.body) >= int(r.header("content-length")):
                break
    finally:
        tls.close()
    return parse_http1(data)


def send_h2(port, headers, body=None, timeout=10):
    """One HTTP/2 request with headers sent as given (no validation or normalisation by the client).
    Returns a RawResponse; status None with body 'reset' when the server reset the stream."""
    tls = tls_context(["h2"]).wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=timeout))
    try:
        assert tls.selected_alpn_protocol() == "h2"
        conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8", validate_outbound_headers=False,
            normalize_outbound_headers=False, validate_inbound_headers=False))
        conn.initiate_connection()
        tls.sendall(conn.data_to_send())
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, headers, end_stream=body is None)
        if body is not None:
            conn.send_data(sid, body, end_stream=True)
        tls.sendall(conn.data_to_send())
        status, hdrs, data, reset = None, {}, b"", False
        deadline = time.monotonic() + timeout
        done = False
        while not done and time.monotonic() < deadline:
            try:
                chunk = tls.recv(65536)
            except (socket.timeout, ssl.SSLError, OSError):
                break
            if not chunk:
                break
            for ev in conn.receive_data(chunk):
                if isinstance(ev, h2.events.ResponseReceived):
                    hdrs = {k.lower(): v for k, v in ev.headers}
                    status = int(hdrs.pop(":status"))
                elif isinstance(ev, h2.events.DataReceived):
                    data += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                    reset, done = True, True
                elif isinstance(ev, h2.events.StreamEnded):
                    done = True
            tls.sendall(conn.data_to_send())
        if reset and status is None:
            return RawResponse(None, {}, b"reset", closed_without_answer=True)
        return RawResponse(status, hdrs, data)
    finally:
        tls.close()
