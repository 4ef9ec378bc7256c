#!/usr/bin/python3
# soak.py — mixed load at a fixed rate through the gateway while DynamoDB faults are injected on a schedule.
# Keeps a model of every acknowledged write and checks it against the table at the end; samples pool RSS.
"""
Library: run_soak(base_url, key, proxy_url, pool_pid, duration_s, rate, ...) -> report (a dict).
Command line: soak.py --minutes M [--rate R] [--report FILE]: starts its own stack (dynalite, the signature-
checking proxy and a gateway, as tests/run and tests/integration/gateway_stack.py do), runs, prints the report.

Load: open loop, one request every 1/rate s whatever the answers' latency (a thread pool sends them), on a set
of ids, each id with at most one request in flight so the model knows what each acknowledged write left:
creates (POST /clones, PUT, part 1's POST /clone), reads (GET /clones/{id}, GET /clone?cloneID=), If-Match
writes (PUT, merge PATCH, DELETE), part 1's PATCH and DELETE, lists and /health.
Faults: every fault_every_s seconds the proxy is armed with the next fault of FAULTS (throttling, 500, 503,
closed connections, delays, answers lost after the write).
Expected answers are the documented ones for the operation; a 503 (DynamoDB unavailable after the retries)
is expected only for a request that overlapped a fault, and makes the id's state uncertain (a write may or
may not have happened) until a later read settles it. A write that met a lost answer (the proxy's
lose_answer: DynamoDB did the write, the worker never heard) is retried by the worker, which then finds its
own write done: a conditional write is answered 412 and a delete 404 although they were applied. Those are
counted apart ("ambiguous"), and the read that settles the id says whether the write had been applied.
Anything else is unexpected: other 5xx, a 4xx the model does not predict, a non-JSON body, a connection
error, a read that disagrees with the model.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import random
import shutil
import ssl
import sys
import threading
import time
import urllib.request
from urllib.parse import quote

# (mode, count, delay_ms): small counts are absorbed by the worker's retries; the larger ones outlast them.
FAULTS = [("throttle", 2, 0), ("http500", 1, 0), ("close", 1, 0), ("delay", 3, 800), ("http503", 2, 0),
          ("lose_answer", 1, 0), ("throttle", 12, 0), ("close", 6, 0)]
FAULT_WINDOW_S = 15  # a request this close after a fault was armed may have met it
ALWAYS = {"GET /health": {200}}


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def pool_pids(pool_pid):
    """The supervisor and its workers."""
    try:
        with open(f"/proc/{pool_pid}/task/{pool_pid}/children") as fh:
            return [pool_pid] + [int(p) for p in fh.read().split()]
    except OSError:
        return [pool_pid]


class Client:
    def __init__(self, base_url, key):
        rest = base_url.split("://", 1)[1]
        hostport, _, stage = rest.partition("/")
        self.host, port = hostport.split(":")
        self.port = int(port)
        self.stage = "/" + stage if stage else ""
        self.key = key
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE
        self.local = threading.local()

    def request(self, method, path, body=None, headers=None):
        """(status, parsed JSON or None, raw body, headers); keeps one connection per thread."""
        h = {"x-api-key": self.key}
        h.update(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        for attempt in range(2):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=60)
                self.local.conn = conn
            try:
                conn.request(method, self.stage + path, body=data, headers=h)
                r = conn.getresponse()
                raw = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    self.local.conn = None
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = ValueError
                return r.status, parsed, raw, {k.lower(): v for k, v in r.getheaders()}
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection nginx closed between requests: only then is a resend safe,
                # because nothing of this request was answered.
                conn.close()
                self.local.conn = None
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")


class Soak:
    def __init__(self, client, proxy_url, pool_pid, ids, seed):
        self.client, self.proxy, self.pool_pid = client, proxy_url, pool_pid
        self.rnd = random.Random(seed)
        self.lock = threading.Lock()
        self.ids = ids
        self.state = {i: ("absent", None, None) for i in ids}  # (kind, version, attrs)
        self.busy = set()
        self.statuses = {}
        self.unexpected = []
        self.requests = 0
        self.fault_armed_at = -1e9
        self.lost_answer_at = -1e9
        self.ambiguous = []
        self.ambiguous_applied = 0
        self.faults = []
        self.counter = 0

    # -- bookkeeping ----------------------------------------------------------------------------------------
    def note(self, op, status):
        with self.lock:
            self.requests += 1
            cls = f"{status // 100}xx" if isinstance(status, int) else str(status)
            self.statuses[cls] = self.statuses.get(cls, 0) + 1
            self.statuses[f"{op} {status}"] = self.statuses.get(f"{op} {status}", 0) + 1

    def bad(self, op, why):
        with self.lock:
            self.unexpected.append(f"{op}: {why}")

    def near_fault(self, started):
        return started - self.fault_armed_at < FAULT_WINDOW_S

    def set_state(self, cid, kind, version=None, attrs=None):
        with self.lock:
            self.state[cid] = (kind, version, attrs)

    # -- one request -----------------------------------------------------------------------------------------
    def check(self, op, cid, status, parsed, expected, started, attempted=None):
        """True when the answer is one the model allows; 503 near a fault makes the id uncertain. attempted:
        what a write would leave ("absent" or its attributes), for a write met by a lost answer."""
        self.note(op, status)
        if parsed is ValueError:
            self.bad(op, f"{status} with a body that is not JSON")
            return False
        if status == 503 and self.near_fault(started):
            if cid:
                self.set_state(cid, "uncertain")
            return False
        if attempted is not None and status in (404, 412) and started - self.lost_answer_at < FAULT_WINDOW_S:
            with self.lock:
                self.ambiguous.append(f"{op} {status} for {cid}")
            self.set_state(cid, "uncertain", None, attempted)
            return False
        if status not in expected:
            self.bad(op, f"{status} {json.dumps(parsed)[:200]} for {cid} in state {self.state.get(cid)}")
            if cid:
                self.set_state(cid, "uncertain")
            return False
        return True

    def one(self):
        started = time.monotonic()
        roll = self.rnd.random()
        if roll < 0.05:
            op = "GET /health"
            try:
                status, parsed, _, _ = self.client.request("GET", "/health")
            except OSError as e:
                self.note(op, "error")
                self.bad(op, repr(e))
                return
            self.check(op, None, status, parsed, {200}, started)
            return
        if roll < 0.12:
            op = "GET /clones"
            try:
                status, parsed, _, _ = self.client.request("GET", "/clones?limit=20")
            except OSError as e:
                self.note(op, "error")
                self.bad(op, repr(e))
                return
            if self.check(op, None, status, parsed, {200}, started) and "clones" not in parsed:
                self.bad(op, "no clones in the list")
            return
        with self.lock:
            free = [i for i in self.ids if i not in self.busy]
            if not free:
                return
            cid = self.rnd.choice(free)
            self.busy.add(cid)
            kind, version, attrs = self.state[cid]
            self.counter += 1
            n = self.counter
        try:
            self.act(cid, kind, version, attrs, n, started)
        except OSError as e:
            self.note("request", "error")
            self.bad("request", f"{cid}: {e!r}")
            self.set_state(cid, "uncertain")
        finally:
            with self.lock:
                self.busy.discard(cid)

    def act(self, cid, kind, version, attrs, n, started):
        path = "/clones/" + quote(cid, safe="")
        c = self.client
        r = self.rnd.random()
        if kind == "absent":
            body = {"n": n, "s": "v%d" % n}
            if r < 0.4:
                op = "POST /clones"
                status, parsed, _, _ = c.request("POST", "/clones", dict(body, cloneID=cid))
                ok = {201}
            elif r < 0.7:
                op = "PUT /clones/{id}"
                status, parsed, _, _ = c.request("PUT", path, body)
                ok = {201}
            else:
                op = "POST /clone"
                status, parsed, _, _ = c.request("POST", "/clone", dict(body, cloneID=cid))
                ok = {200}
                parsed = parsed.get("Item") if isinstance(parsed, dict) else parsed
            if self.check(op, cid, status, parsed, ok, started):
                self.set_state(cid, "present", parsed.get("version"), body)
            return
        if kind == "uncertain" or r < 0.3:
            op = "GET /clones/{id}" if r < 0.2 or kind == "uncertain" else "GET /clone"
            if op == "GET /clones/{id}":
                status, parsed, _, _ = c.request("GET", path)
            else:
                status, parsed, _, _ = c.request("GET", "/clone?cloneID=" + quote(cid, safe=""))
            allowed = {200, 404} if kind == "uncertain" else {200}
            if not self.check(op, cid, status, parsed, allowed, started):
                return
            got = {k: parsed.get(k) for k in ("n", "s")} if status == 200 else "absent"
            if kind == "uncertain" and attrs is not None and got == attrs:
                with self.lock:
                    self.ambiguous_applied += 1  # the write answered 412/404 had been applied
            if status == 404:
                self.set_state(cid, "absent")
                return
            if kind == "present" and (parsed.get("version") != version or got != attrs):
                self.bad(op, f"{cid}: read {parsed} but the last acknowledged write left version {version} {attrs}")
            self.set_state(cid, "present", parsed.get("version"), got)
            return
        etag = {"If-Match": '"%d"' % version}
        body = {"n": n, "s": "v%d" % n}
        if r < 0.45:
            op = "PUT /clones/{id}"
            status, parsed, _, _ = c.request("PUT", path, body, etag)
            if self.check(op, cid, status, parsed, {200}, started, body):
                self.set_state(cid, "present", parsed.get("version"), body)
        elif r < 0.6:
            op = "PATCH /clones/{id}"
            status, parsed, _, _ = c.request("PATCH", path, {"n": n}, dict(etag, **{
                "Content-Type": "application/merge-patch+json"}))
            if self.check(op, cid, status, parsed, {200}, started, dict(attrs, n=n)):
                self.set_state(cid, "present", parsed.get("version"), dict(attrs, n=n))
        elif r < 0.75:
            op = "PATCH /clone"
            status, parsed, _, headers = c.request("PATCH", "/clone", {"cloneID": cid, "updateKey": "s",
                                                                        "updateValue": "p%d" % n})
            if self.check(op, cid, status, parsed, {200}, started, dict(attrs, s="p%d" % n)):
                # The answer's ETag is the version the update left (a retried update counts twice).
                self.set_state(cid, "present", int(headers.get("etag", '"0"').strip('"')), dict(attrs, s="p%d" % n))
        elif r < 0.9:
            op = "DELETE /clones/{id}"
            status, parsed, _, _ = c.request("DELETE", path, None, etag)
            if self.check(op, cid, status, parsed, {204}, started, "absent"):
                self.set_state(cid, "absent")
        else:
            op = "DELETE /clone"
            status, parsed, _, _ = c.request("DELETE", "/clone", {"cloneID": cid})
            if self.check(op, cid, status, parsed, {200}, started, "absent"):
                self.set_state(cid, "absent")

    # -- faults ----------------------------------------------------------------------------------------------
    def arm(self, mode, count, delay_ms):
        cmd = {"mode": mode, "count": count}
        if mode == "delay":
            cmd["delay_ms"] = delay_ms
        req = urllib.request.Request(self.proxy + "/__proxy/fault", method="POST", data=json.dumps(cmd).encode())
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200
        self.fault_armed_at = time.monotonic()
        if mode == "lose_answer":
            self.lost_answer_at = self.fault_armed_at
        self.faults.append(mode)

    def disarm(self):
        req = urllib.request.Request(self.proxy + "/__proxy/reset", method="POST", data=b"{}")
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200

    # -- the end -------------------------------------------------------------------------------------------
    def verify(self):
        """Every id read back with no fault armed: acknowledged writes present, acknowledged deletes absent."""
        present = absent = uncertain = 0
        for cid in self.ids:
            kind, version, attrs = self.state[cid]
            status, parsed, _, _ = self.client.request("GET", "/clones/" + quote(cid, safe=""))
            if kind == "uncertain":
                uncertain += 1
                if status not in (200, 404):
                    self.bad("verify", f"{cid}: {status}")
                continue
            if kind == "absent":
                absent += 1
                if status != 404:
                    self.bad("verify", f"{cid}: an acknowledged delete (or no create) but {status} {parsed}")
                continue
            present += 1
            got = {k: parsed.get(k) for k in ("n", "s")} if status == 200 else None
            if status != 200 or parsed.get("version") != version or got != attrs:
                self.bad("verify", f"{cid}: expected version {version} {attrs}, got {status} {parsed}")
        return present, absent, uncertain


def run_soak(base_url, key, proxy_url, pool_pid, duration_s, rate, fault_every_s=10.0, ids=200, seed=12,
             threads=32, log=print):
    client = Client(base_url, key)
    soak = Soak(client, proxy_url, pool_pid, ["soak-%d-%d" % (seed, i) for i in range(ids)], seed)
    worker_pids_start = pool_pids(pool_pid)
    rss = {"start": rss_kib(worker_pids_start)}
    soak.disarm()
    start = time.monotonic()
    next_fault = start + fault_every_s
    fault_index = 0
    sent = 0
    late = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        futures = []
        while True:
            now = time.monotonic()
            if now - start >= duration_s:
                break
            if now >= next_fault:
                soak.arm(*FAULTS[fault_index % len(FAULTS)])
                fault_index += 1
                next_fault += fault_every_s
            if "middle" not in rss and now - start >= duration_s / 2:
                rss["middle"] = rss_kib(pool_pids(pool_pid))
            due = start + sent / rate
            if due > now:
                time.sleep(min(due - now, 0.05))
                continue
            if now - due > 1.0:
                late += 1
            futures.append(pool.submit(soak.one))
            sent += 1
            if len(futures) > 10000:
                futures = [f for f in futures if not f.done()]
        for f in futures:
            f.result()
    soak.disarm()
    elapsed = time.monotonic() - start
    rss["end"] = rss_kib(pool_pids(pool_pid))
    present, absent, uncertain = soak.verify()
    pids_end = pool_pids(pool_pid)
    if sorted(pids_end) != sorted(worker_pids_start):
        soak.unexpected.append(f"the pool changed: {worker_pids_start} -> {pids_end}")
    report = {
        "duration_s": round(elapsed, 1), "rate": rate, "requests": soak.requests,
        "achieved_rate": round(soak.requests / elapsed, 1), "sent_more_than_1s_late": late,
        "statuses": {k: v for k, v in sorted(soak.statuses.items()) if k.endswith("xx") or k == "error"},
        "by_operation": {k: v for k, v in sorted(soak.statuses.items()) if not k.endswith("xx")},
        "faults_injected": len(soak.faults), "unexpected": len(soak.unexpected),
        "ambiguous_after_lost_answer": len(soak.ambiguous), "ambiguous_examples": soak.ambiguous[:10],
        "ambiguous_found_applied": soak.ambiguous_applied,
        "unexpected_examples": soak.unexpected[:10],
        "verified_present": present, "verified_absent": absent, "uncertain_after_503": uncertain,
        "pool_rss_kib": rss, "pool_processes": len(pids_end),
    }
    log(json.dumps(report, indent=2))
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--rate", type=float, default=40)
    ap.add_argument("--fault-every", type=float, default=10.0, help="seconds between faults (default 10)")
    ap.add_argument("--report")
    ap.add_argument("--build-dir", default=None)
    args = ap.parse_args()
    src = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    from importlib.machinery import SourceFileLoader
    import tempfile
    runner = SourceFileLoader("tests_run", os.path.join(src, "tests", "run")).load_module()
    work = tempfile.mkdtemp(prefix="clone-jobs-soak-")
    os.environ.update({"AWS_ACCESS_KEY_ID": runner.TEST_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": runner.TEST_SECRET_KEY,
                       "AWS_REGION": runner.TEST_REGION, "AWS_EC2_METADATA_DISABLED": "true",
                       "CLONE_JOBS_TEST_WORK_DIR": work, "CLONE_JOBS_SRC_DIR": src,
                       "CLONE_JOBS_BUILD_DIR": os.path.abspath(args.build_dir or os.path.join(src, "build", "dev"))})
    services = runner.Services(src, work)
    os.environ["CLONE_JOBS_TEST_ENDPOINT"] = services.proxy_url
    sys.path.insert(0, os.path.join(src, "tests", "integration"))
    import gateway_stack
    gateway_stack.ENDPOINT = services.proxy_url
    gw = gateway_stack.Gateway(extra_config=SOAK_CONFIG)
    ok = False
    try:
        gw.start()
        report = run_soak(gw.base_url, gw.keys["alice"], services.proxy_url, gw.pool.pid, args.minutes * 60,
                          args.rate, fault_every_s=args.fault_every)
        report["access_log_lines_not_json"] = count_bad_log_lines(os.path.join(gw.logs, "access.log"))
        if args.report:
            with open(args.report, "w") as fh:
                json.dump(report, fh, indent=2)
        print(json.dumps({"access_log_lines_not_json": report["access_log_lines_not_json"]}))
        ok = report["unexpected"] == 0 and report["access_log_lines_not_json"] == 0
        return 0 if ok else 1
    finally:
        gw.stop()
        services.stop()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work} for inspection", file=sys.stderr)


def count_bad_log_lines(path):
    bad = 0
    with open(path) as fh:
        for line in fh:
            try:
                json.loads(line)
            except ValueError:
                bad += 1
    return bad


# The soak's gateway: API Gateway's 29 s integration timeout, DynamoDB retries well inside it, so a fault that
# outlasts the retries is a 503 from the worker, never a 504 from nginx.
SOAK_CONFIG = {"integration_timeout_s": "29", "ddb_max_attempts": "4", "ddb_max_total_ms": "3000",
               "ddb_attempt_timeout_ms": "2000"}

if __name__ == "__main__":
    sys.exit(main())
