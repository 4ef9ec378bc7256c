# test_gateway_promises.py — promises of the README's gateway section that no other test could fail on: the
# worker never sees an x-api-key, TLS 1.2/1.3 with only the ECDHE AES-GCM/ChaCha20 suites, the worker's 503
# through the real site, every access-log field, and unspent quota given back when the pool's workers exit.
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time
import uuid
from datetime import datetime

import pytest

from gateway_stack import (SRC, WORK, Gateway, ddb_call, gateway, proxy_call, proxy_log,  # noqa: F401
                           proxy_mark, wait_until)

RECORDER = os.path.join(SRC, "tests", "tools", "fcgi_recorder.py")
CORS_HEADERS = "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token,If-Match"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# What the README promises: ECDHE key exchange with AES-GCM or ChaCha20 (the certificate is ECDSA).
TLS12_SUITES = {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"}
TLS13_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
TLS13_OTHER = {"TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"}


# -- the worker never sees a key ---------------------------------------------------------------------------
class RecordingGateway(Gateway):
    """The real gateway site, with a FastCGI recorder where the worker pool would be."""

    def start_pool(self, workers=2, program=None):
        self.recorded = os.path.join(self.logs, "fcgi-params.jsonl")
        super().start_pool(program=["/usr/bin/python3", RECORDER, self.recorded])

    def recorded_params(self):
        with open(self.recorded) as fh:
            return [json.loads(line)["params"] for line in fh]


@pytest.fixture(scope="module")
def recording_gateway():
    gw = RecordingGateway()
    try:
        gw.start()
        yield gw
    finally:
        gw.stop()


def test_the_worker_never_sees_an_api_key(recording_gateway):
    gw = recording_gateway
    key = gw.keys["alice"]
    before = len(gw.recorded_params())
    sent = [("GET", "/health", None, {"x-api-key": key}),
            ("POST", "/clones", b'{"a":1}', {"X-API-Key": key, "Content-Type": "application/json"}),
            ("GET", "/clones/some-id", None, {"X-Api-Key": key, "X-Other": "visible"})]
    for method, path, body, headers in sent:
        r = gw.request(method, path, body=body, headers=headers)
        assert r.status == 200 and r.body == b'{"status":"ok"}', (path, r.status, r.body)
    params = gw.recorded_params()[before:]
    assert len(params) == len(sent), params
    for p in params:
        # The recorder saw the requests as a worker would, with the client's name...
        assert p["CLONE_JOBS_CLIENT"] == "alice" and p["CLONE_JOBS_PLAN"] == "standard", p
        assert p["REQUEST_URI"].startswith(gw.stage + "/"), p
        # ...and never the key, under any name or case.
        assert p.get("HTTP_X_API_KEY", "") == "", p
        leaked = {k: v for k, v in p.items() if key.lower() in v.lower()}
        assert leaked == {}, leaked
    assert params[2].get("HTTP_X_OTHER") == "visible", "other headers are passed on"


# -- TLS ------------------------------------------------------------------------------------------------
def tls_client(minimum, maximum, ciphers="DEFAULT:@SECLEVEL=0"):
    """A client that can offer old protocols and weak suites (security level 0), so only the server refuses."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with pytest.warns(DeprecationWarning) if minimum < ssl.TLSVersion.TLSv1_2 else _nothing():
        ctx.minimum_version = minimum
        ctx.maximum_version = maximum
    ctx.set_ciphers(ciphers)
    return ctx


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def handshake(port, ctx):
    """(protocol, suite) when the handshake succeeds, None when the server refuses it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with ctx.wrap_socket(raw) as tls:
                return tls.version(), tls.cipher()[0]
        except (ssl.SSLError, ConnectionResetError):
            return None


@pytest.fixture
def old_tls_server(tmp_path, gateway):
    """openssl s_server offering TLS 1.0 and 1.1 only: shows the client really can speak them."""
    proc = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:0", "-no_tls1_2", "-no_tls1_3",
                             "-cipher", "DEFAULT:@SECLEVEL=0", "-cert", gateway.cert,
                             "-key", os.path.join(gateway.dir, "key.pem")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = None
        for line in proc.stdout:
            m = re.match(r"ACCEPT .*:(\d+)$", line.strip())
            if m:
                port = int(m.group(1))
                break
        assert port, "openssl s_server did not start"
        yield port
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_tls_below_12_is_refused_to_a_client_that_offers_it(gateway, old_tls_server, version):
    v = getattr(ssl.TLSVersion, version)
    # The same client gets through to a server that allows the old protocol...
    got = handshake(old_tls_server, tls_client(v, v))
    assert got and got[0] == version.replace("_", "."), got
    # ...and not to the gateway.
    assert handshake(gateway.port, tls_client(v, v)) is None
    assert handshake(gateway.port, tls_client(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)) is not None


def test_tls12_offers_only_ecdhe_with_aes_gcm_or_chacha20(gateway):
    names = subprocess.run(["openssl", "ciphers", "-tls1_2", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
                           capture_output=True, text=True, check=True).stdout.strip().split(":")
    accepted, tried = set(), 0
    for name in names:
        if name.startswith("TLS_"):
            continue  # TLS 1.3 suites: below
        try:
            ctx = tls_client(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, name + ":@SECLEVEL=0")
        except ssl.SSLError:
            continue  # a suite this Python cannot offer on its own (PSK, SRP)
        tried += 1
        got = handshake(gateway.port, ctx)
        if got:
            assert got == ("TLSv1.2", name), got
            accepted.add(name)
    assert tried > 50, f"only {tried} suites could be offered: the check would prove little"
    assert accepted == TLS12_SUITES, sorted(accepted)


@pytest.mark.parametrize("suite", sorted(TLS13_SUITES | TLS13_OTHER))
def test_tls13_offers_only_aes_gcm_or_chacha20(gateway, suite):
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{gateway.port}", "-tls1_3",
                        "-ciphersuites", suite], input="", capture_output=True, text=True, timeout=20)
    negotiated = re.search(r"^New, TLSv1\.3, Cipher is (\S+)$", r.stdout, re.M)
    if suite in TLS13_SUITES:
        assert negotiated and negotiated.group(1) == suite, r.stdout[-2000:] + r.stderr[-1000:]
    else:
        assert not negotiated, r.stdout[-2000:]
        assert "Cipher is (NONE)" in r.stdout or r.returncode != 0, r.stdout[-2000:]


# -- the worker's own 503 through the real site ------------------------------------------------------------
def test_the_workers_503_and_retry_after_pass_through_the_gateway(gateway):
    proxy_call("POST", "/__proxy/fault", {"mode": "throttle", "count": 1000})
    try:
        r = gateway.request("GET", "/clones/unavailable-" + uuid.uuid4().hex, key=gateway.keys["alice"])
    finally:
        proxy_call("POST", "/__proxy/reset", {})
    assert r.status == 503, (r.status, r.body)
    assert r.json() == {"message": "service unavailable, retry later"}
    assert r.header("Retry-After") == "1"
    assert r.header("content-type") == "application/json"
    assert re.fullmatch(UUID_RE, r.header("x-amzn-RequestId") or "")
    assert r.header("Access-Control-Allow-Origin") == "*"
    assert r.header("Access-Control-Allow-Headers") == CORS_HEADERS


# -- the access log ----------------------------------------------------------------------------------------
ACCESS_FIELDS = ["time", "requestId", "client", "plan", "remote", "method", "uri", "status", "bytes",
                 "requestTime", "upstreamTime", "errorType", "tls"]


def test_every_access_log_field(gateway):
    tiny_name = "log-tiny-" + uuid.uuid4().hex[:6]
    tiny = gateway.add_key(tiny_name, "tiny")
    cid = "log-" + uuid.uuid4().hex
    big = b'{"cloneID":"x","b":"' + b"a" * (10 * 1024 * 1024) + b'"}'
    cases = [  # (method, path, body, key, worker answered)
        ("GET", "/health", None, gateway.keys["alice"], True),
        ("POST", "/clones", {"cloneID": cid, "status": "log"}, gateway.keys["alice"], True),
        ("GET", "/clones/" + cid, None, gateway.keys["alice"], True),
        ("GET", "/clones/" + cid + "-missing", None, gateway.keys["alice"], True),
        ("GET", "/clones", None, None, False),
        ("GET", "/nothing-here", None, gateway.keys["alice"], False),
        ("POST", "/clones", big, gateway.keys["alice"], False),
    ]
    answers = []
    for method, path, body, key, upstream in cases:
        r = gateway.request(method, path, body=body, key=key,
                            headers={"Content-Type": "application/json"} if body else None)
        answers.append((method, path, key, upstream, r))
    # Throttled: spend the tiny plan's burst (1 r/s, burst 3) until nginx says 429.
    for _ in range(30):
        r = gateway.request("GET", "/health", key=tiny)
        if r.status == 429:
            answers.append(("GET", "/health", tiny, False, r))
            break
    else:
        pytest.fail("the tiny plan never throttled")
    statuses = [a[4].status for a in answers]
    assert statuses == [200, 201, 200, 404, 403, 403, 413, 429], statuses
    rids = [a[4].header("x-amzn-RequestId") for a in answers]

    def lines():
        with open(os.path.join(gateway.logs, "access.log")) as fh:
            return [json.loads(line) for line in fh if any(rid in line for rid in rids)]
    assert wait_until(lambda: len(lines()) == len(rids), 20)
    by_id = {line["requestId"]: line for line in lines()}
    for (method, path, key, upstream, r), rid in zip(answers, rids):
        line = by_id[rid]
        assert list(line) == ACCESS_FIELDS, line
        assert datetime.fromisoformat(line["time"]).tzinfo is not None, line
        assert line["remote"] == "127.0.0.1" and line["method"] == method, line
        assert line["uri"] == gateway.stage + path, line
        assert line["status"] == r.status and isinstance(line["status"], int), line
        assert line["bytes"] == len(r.body), (line, len(r.body))
        assert isinstance(line["requestTime"], (int, float)) and 0 <= line["requestTime"] < 60, line
        assert line["errorType"] == (r.header("x-amzn-ErrorType") or ""), line
        assert line["tls"] == "TLSv1.3", line
        if upstream:
            assert re.fullmatch(r"\d+\.\d{3}", line["upstreamTime"]), line
            assert float(line["upstreamTime"]) <= line["requestTime"] + 0.001, line
        else:
            assert line["upstreamTime"] in ("", "-"), line
        client = {gateway.keys["alice"]: ("alice", "standard"), tiny: (tiny_name, "tiny"), None: ("", "")}[key]
        assert (line["client"], line["plan"]) == client, line
    assert [by_id[rid]["errorType"] for rid in rids] == [
        "", "", "", "", "ForbiddenException", "MissingAuthenticationTokenException", "RequestTooLongException",
        "TooManyRequestsException"], [by_id[rid]["errorType"] for rid in rids]
    # Every line of the whole log so far, whatever test wrote it, is one JSON object with every field.
    with open(os.path.join(gateway.logs, "access.log")) as fh:
        for n, text in enumerate(fh, 1):
            assert list(json.loads(text)) == ACCESS_FIELDS, (n, text)


# -- quota given back ------------------------------------------------------------------------------------------
def usage_leased(gateway, client):
    """Sum of `leased` over the client's usage items (every period: a month may begin while the test runs)."""
    items = ddb_call("Scan", {"TableName": gateway.usage_table})["Items"]
    return sum(int(i["leased"]["N"]) for i in items
               if i["usageID"]["S"].startswith(client + "#") and "leased" in i)


def test_unspent_quota_is_given_back_when_the_pools_workers_exit(gateway):
    plan = "giveback" + uuid.uuid4().hex[:6]
    gateway.admin("add-plan", plan, "--rate", "100", "--burst", "100", "--quota", "1000", "--period", "MONTH")
    client = "gb-" + uuid.uuid4().hex[:8]
    key = gateway.add_key(client, plan)
    r = gateway.request("GET", "/health", key=key)
    assert r.status == 200, r.body
    # One request: its worker leased a block of 1000/100 = 10 and spent 1.
    assert usage_leased(gateway, client) == 10
    before = gateway.worker_pids()
    gateway.pool.send_signal(signal.SIGHUP)  # every worker exits cleanly and is replaced

    def exited():
        text = gateway.pool_log_text()
        return {json.loads(l)["workerPid"] for l in text.splitlines() if '"event":"worker_exited"' in l} >= set(before)
    assert wait_until(exited, 20), gateway.pool_log_text()[-2000:]
    assert usage_leased(gateway, client) == 1, "the 9 unspent tokens were not given back"
    assert wait_until(lambda: len(gateway.worker_pids()) == len(before), 10)
    # The replacement workers count on from there: the next request leases a new block.
    assert gateway.request("GET", "/health", key=key).status == 200
    assert usage_leased(gateway, client) == 11
