#!/usr/bin/python3
# fcgi_recorder.py — a FastCGI responder for tests that stands where the worker pool would: it records every
# request's params (what a worker would see) as one JSON line each and answers 200 {"status":"ok"}.
"""
Usage: spawn-fcgi -n -s SOCKET -- /usr/bin/python3 fcgi_recorder.py OUTPUT

The listening socket is fd 0 (spawn-fcgi's convention). One request per connection, answered in order; each
line of OUTPUT is {"params": {name: value, ...}, "stdin_bytes": N}, written and flushed before the answer.
Exits on SIGTERM.
"""
import json
import signal
import socket
import struct
import sys

BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT = 1, 2, 3, 4, 5, 6
ANSWER = b'Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{"status":"ok"}'


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_record(conn):
    version, rtype, request_id, length, padding, _ = struct.unpack("!BBHHBB", read_exact(conn, 8))
    content = read_exact(conn, length)
    read_exact(conn, padding)
    return rtype, request_id, content


def record(rtype, request_id, content):
    return struct.pack("!BBHHBB", 1, rtype, request_id, len(content), 0, 0) + content


def parse_params(data):
    params, pos = {}, 0

    def length():
        nonlocal pos
        if data[pos] >> 7:
            n = struct.unpack("!I", data[pos:pos + 4])[0] & 0x7FFFFFFF
            pos += 4
        else:
            n = data[pos]
            pos += 1
        return n
    while pos < len(data):
        name_len = length()
        value_len = length()
        name = data[pos:pos + name_len].decode("latin-1")
        pos += name_len
        params[name] = data[pos:pos + value_len].decode("latin-1")
        pos += value_len
    return params


def serve(conn, out):
    params, stdin_bytes, request_id = b"", 0, 1
    while True:
        rtype, request_id, content = read_record(conn)
        if rtype == PARAMS:
            params += content
        elif rtype == STDIN:
            if not content:
                break
            stdin_bytes += len(content)
        elif rtype == ABORT_REQUEST:
            return
    out.write(json.dumps({"params": parse_params(params), "stdin_bytes": stdin_bytes}) + "\n")
    out.flush()
    conn.sendall(record(STDOUT, request_id, ANSWER) + record(STDOUT, request_id, b"") +
                 record(END_REQUEST, request_id, struct.pack("!IB3x", 0, 0)))


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket(fileno=0)
    with open(sys.argv[1], "a") as out:
        while True:
            conn, _ = listener.accept()
            with conn:
                try:
                    serve(conn, out)
                except (EOFError, OSError):
                    pass


if __name__ == "__main__":
    main()
