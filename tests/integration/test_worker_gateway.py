# test_worker_gateway.py — gateway = worker spoken to directly over FastCGI (no web server in between, so nothing
# merges or drops anything): exactly one x-api-key, identity parameters ignored, an unreadable key store is a 500.
import json
import os
import shutil
import socket
import struct
import subprocess
import uuid

import pytest

from conftest import SANITIZER_MARKERS, parse_cgi_output
from gateway_stack import BUILD, ENDPOINT, WORK, wait_until

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def fcgi_record(kind, content, request_id=1):
    return struct.pack(">BBHHBx", 1, kind, request_id, len(content), 0) + content


def fcgi_pair(name, value):
    n, v = name.encode(), value.encode()
    length = lambda b: struct.pack(">B", len(b)) if len(b) < 128 else struct.pack(">I", len(b) | 0x80000000)  # noqa
    return length(n) + length(v) + n + v


def fcgi_request(sock_path, params, body=b""):
    """One request with params as a list of (name, value): repeated names are sent as they are."""
    data = fcgi_record(BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))
    data += fcgi_record(PARAMS, b"".join(fcgi_pair(k, v) for k, v in params)) + fcgi_record(PARAMS, b"")
    data += (fcgi_record(STDIN, body) if body else b"") + fcgi_record(STDIN, b"")
    out = b""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(sock_path)
        s.sendall(data)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 8:
                _, kind, _, clen, plen = struct.unpack(">BBHHB", buf[:7])
                if len(buf) < 8 + clen + plen:
                    break
                content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
                if kind == STDOUT:
                    out += content
                if kind == END_REQUEST:
                    return parse_cgi_output(out)
    return parse_cgi_output(out)


@pytest.fixture(scope="module")
def worker():
    d = os.path.join(WORK, "worker-gateway-" + uuid.uuid4().hex[:6])
    keys, state = os.path.join(d, "keys"), os.path.join(d, "state")
    os.makedirs(state)
    config = os.path.join(d, "clone-jobs.conf")
    with open(config, "w") as fh:
        fh.write(f"gateway = worker\nkeys_dir = {keys}\nstate_dir = {state}\nendpoint = {ENDPOINT}\n"
                 f"region = us-east-1\ncursor_secret = {uuid.uuid4().hex}\nlog_level = info\n")
    admin = [os.path.join(BUILD, "clone-jobs-admin"), "--config", config]
    subprocess.run(admin + ["add-plan", "standard", "--rate", "1000", "--burst", "1000"], check=True,
                   capture_output=True, timeout=60)
    key = subprocess.run(admin + ["add-key", "alice", "--plan", "standard"], check=True, capture_output=True,
                         text=True, timeout=60).stdout.strip()
    sock, log = os.path.join(d, "fcgi.sock"), os.path.join(d, "worker.log")
    pool = subprocess.Popen(["spawn-fcgi", "-n", "-s", sock, "-M", "0600", "--", os.path.join(BUILD, "clone-jobs-fcgi"),
                             "--config", config, "--log-file", log, "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: os.path.exists(log) and "worker started" in open(log).read(), 20), "no worker"
        yield {"socket": sock, "key": key, "keys": keys, "log": log}
    finally:
        pool.terminate()
        pool.wait(20)
    with open(log, errors="replace") as fh:
        reports = [line for line in fh if any(m in line for m in SANITIZER_MARKERS)]
    assert not reports, reports[:10]


def base(path="/health"):
    return [("REQUEST_METHOD", "GET"), ("REQUEST_URI", path), ("QUERY_STRING", ""), ("SERVER_PROTOCOL", "HTTP/1.1")]


def test_exactly_one_x_api_key(worker):
    k = worker["key"]
    r = fcgi_request(worker["socket"], base() + [("HTTP_X_API_KEY", k)])
    assert r.status == 200, r
    for params in ([("HTTP_X_API_KEY", k), ("HTTP_X_API_KEY", k)], [("HTTP_X_API_KEY", "nope"), ("HTTP_X_API_KEY", k)],
                   [("HTTP_X_API_KEY", k), ("HTTP_X_API_KEY", "nope")]):
        r = fcgi_request(worker["socket"], base() + params)
        assert r.status == 403 and r.json() == {"message": "Forbidden"}, (params, r)
        assert r.header("x-amzn-errortype") == "ForbiddenException"


def test_identity_parameters_are_ignored_in_worker_mode(worker):
    # A client name alone is no key, and is not even what the refusal is logged under...
    rid = "ident-" + uuid.uuid4().hex
    r = fcgi_request(worker["socket"], base() + [("CLONE_JOBS_CLIENT", "mallory"), ("CLONE_JOBS_PLAN", "standard"),
                                                 ("HTTP_X_AMZN_REQUESTID", rid)])
    assert r.status == 403, r
    with open(worker["log"]) as fh:
        refused = [json.loads(line) for line in fh if rid in line]
    assert len(refused) == 1 and refused[0]["client"] == "-", refused
    # ...and a quota parameter does not apply to a plan without one.
    for _ in range(3):
        r = fcgi_request(worker["socket"], base() + [("HTTP_X_API_KEY", worker["key"]), ("CLONE_JOBS_QUOTA", "1/DAY"),
                                                     ("CLONE_JOBS_CLIENT", "mallory")])
        assert r.status == 200, r
    with open(worker["log"]) as fh:
        lines = [json.loads(line) for line in fh if '"path":"/health"' in line]
    assert lines[-1]["client"] == "alice" and not any(line["client"] == "mallory" for line in lines[-3:])


def test_an_unreadable_key_store_is_a_500_and_recovers(worker):
    keys_tsv = os.path.join(worker["keys"], "keys.tsv")
    saved = keys_tsv + ".saved"
    shutil.move(keys_tsv, saved)
    os.mkdir(keys_tsv)  # a folder where the file should be: unreadable whoever runs the test
    try:
        r = fcgi_request(worker["socket"], base() + [("HTTP_X_API_KEY", worker["key"])])
        assert r.status == 500 and r.json() == {"message": "Internal server error"}, r
        with open(worker["log"]) as fh:
            assert "the key store cannot be read" in fh.read()
    finally:
        os.rmdir(keys_tsv)
        shutil.move(saved, keys_tsv)
    r = fcgi_request(worker["socket"], base() + [("HTTP_X_API_KEY", worker["key"])])
    assert r.status == 200, r
