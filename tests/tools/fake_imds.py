#!/usr/bin/python3
# fake_imds.py — a fake EC2 instance metadata service (IMDSv2 only) on loopback for tests/unit/test_aws_config.
# Prints "PORT <n>" first, serves one role's credentials, and exits when its stdin closes.
"""Fake IMDSv2 for the C unit tests.

Like the real service, it hands out session tokens only to a PUT /latest/api/token that carries
X-aws-ec2-metadata-token-ttl-seconds (400 otherwise), and answers 401 to any GET whose
X-aws-ec2-metadata-token is not a token it issued. The credentials below are fake and fixed;
the test program knows them.

Modes that exercise the client's failure handling:
  --no-token      answer 403 to the token PUT (IMDSv2 turned off on the instance)
  --reject-token  issue tokens but answer 401 to every GET (a token that is not accepted)
  --bad-json      answer the credentials GET with text that is not JSON
  --hang SECONDS  hold the token PUT that long before answering (the client must time out first)
"""
import argparse
import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROLE = "clone-jobs-test-role"
ACCESS_KEY_ID = "ASIAFAKEIMDSKEY00001"
SECRET_ACCESS_KEY = "fakeImdsSecret/0123456789+abcdefghijklmnop"
SESSION_TOKEN = "fakeImdsSessionToken/AbCdEf+0123456789=="
ROLES_PATH = "/latest/meta-data/iam/security-credentials/"
MAX_TTL = 21600


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # A --hang handler may still be sleeping at exit; do not wait for it.
    block_on_close = False

    def __init__(self, options):
        super().__init__(("127.0.0.1", 0), Handler)
        self.options = options
        self.tokens = set()
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive, as the real service: the client reuses its connection.
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; without this, delayed ACKs add 40 ms to each answer.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 - the base class names it so
        pass  # the TAP output must stay clean

    def answer(self, status, body="", content_type="text/plain", headers=None):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def drain_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 65536))

    def do_PUT(self):
        self.drain_body()
        options = self.server.options
        if self.path != "/latest/api/token":
            self.answer(404, "Not Found")
            return
        if options.hang:
            time.sleep(options.hang)
        if options.no_token:
            self.answer(403, "Forbidden")
            return
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= MAX_TTL:
            self.answer(400, "Bad Request")
            return
        token = secrets.token_urlsafe(42)
        with self.server.lock:
            self.server.tokens.add(token)
        self.answer(200, token, headers={"X-aws-ec2-metadata-token-ttl-seconds": ttl})

    def token_ok(self):
        token = self.headers.get("X-aws-ec2-metadata-token")
        if self.server.options.reject_token:
            return False
        with self.server.lock:
            return token in self.server.tokens

    def do_GET(self):
        if not self.token_ok():
            self.answer(401, "Unauthorized")
            return
        if self.path == ROLES_PATH:
            self.answer(200, ROLE + "\n")
        elif self.path == ROLES_PATH + ROLE:
            if self.server.options.bad_json:
                self.answer(200, "{\"Code\": \"Success\", \"AccessKeyId\": ", "application/json")
                return
            doc = {
                "Code": "Success",
                "LastUpdated": "2024-01-01T00:00:00Z",
                "Type": "AWS-HMAC",
                "AccessKeyId": ACCESS_KEY_ID,
                "SecretAccessKey": SECRET_ACCESS_KEY,
                "Token": SESSION_TOKEN,
                "Expiration": self.server.options.expiration,
            }
            self.answer(200, json.dumps(doc, indent=2), "application/json")
        else:
            self.answer(404, "Not Found")

    def do_POST(self):
        self.drain_body()
        self.answer(405, "Method Not Allowed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expiration", required=True, help="Expiration served, e.g. 2031-05-06T07:08:09Z")
    parser.add_argument("--no-token", action="store_true", help="answer 403 to the token PUT")
    parser.add_argument("--reject-token", action="store_true", help="answer 401 to every GET")
    parser.add_argument("--bad-json", action="store_true", help="serve credentials that are not JSON")
    parser.add_argument("--hang", type=float, default=0.0, help="seconds to hold the token PUT")
    options = parser.parse_args()

    server = Server(options)
    # A short poll interval makes shutdown() prompt, so each test's server stops at once.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    print(f"PORT {server.server_address[1]}", flush=True)
    # The parent holds the other end of stdin: when it closes it (or dies), we stop.
    while sys.stdin.buffer.read(4096):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
