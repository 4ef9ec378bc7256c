#!/usr/bin/python3
# bench.py — bench/run's driver: starts its own stack, latency relay, ceiling nginx and Python Lambda shape on
# loopback, runs wrk against each row, and prints one table with the issue's ratios, CPU per request and memory.
#
# Knobs (environment; bench/README.md says more): DURATION, WARMUP, CONNECTIONS, RELAY, LOW_CONNECTIONS,
# LONG_REQUESTS, LONG_SEGMENT, LONG_MAX, ROWS, WRK_THREADS, PY_PROCS, BENCH_KEEP, BENCH_OUT, and the stack's own
# CLONE_JOBS_BUILD, CLONE_JOBS_WORKERS, CLONE_JOBS_THREADS (passed through unchanged).
import datetime
import http.client
import json
import os
import platform
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"  # Debian's, with python3-boto3; `python3` on PATH may be another build
TABLE = "clone-jobs"
READ_ID = "bench-item"
SEED_ITEMS = 64      # enough for full pages of GET /clones?limit=20
WRITE_IDS = 1024     # writes rotate over this many items, so concurrent writers rarely race on one item
SIGNED_PUTS = 64     # PutItem requests signed up front for the store's own write rate
WRK_TIMEOUT_S = 30   # above the gateway's 29 s integration timeout: a slow answer is measured, not dropped
START_TIMEOUT_S = 180
# The pool without its metrics region and listener, and without usage counting: the "metrics off" rows.
METRICS_OFF_ENV = {"CLONE_JOBS_METRICS_LISTEN": "", "CLONE_JOBS_USAGE_BLOCK": "0"}
DRAIN_MAX_S = 120    # the longest wait for the pool to work off requests a finished row left queued
ITEM = {"status": "queued", "repo": "https://git.example.com/team/project.git", "branch": "main", "depth": 1,
        "size": 123456789.25}


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


def env_int(name, default, lo=0):
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        raise BenchError(f"{name}={raw!r}: a whole number is needed")
    if v < lo:
        raise BenchError(f"{name}={raw!r}: at least {lo}")
    return v


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_line(proc, what, timeout_s):
    """One line from a child's stdout, waiting for it (not for a fixed time) up to timeout_s."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    line = proc.stdout.readline() if ready else ""
    if not line:
        raise BenchError(f"{what}: no answer within {timeout_s} s (exit status {proc.poll()})")
    return line.strip()


# --------------------------------------------------------------------------------------------------------------
# /proc: CPU and resident memory of groups of processes.
CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_stat(pid):
    """(ppid, utime, stime, cutime, cstime) in clock ticks, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            text = fh.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name may hold spaces; fields start after it
    return int(fields[1]), int(fields[11]), int(fields[12]), int(fields[13]), int(fields[14])


def children_of(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(int(entry))
            if st and st[0] == pid:
                kids.append(int(entry))
    return kids


def comm_of(pid):
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def threads_of(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Group:
    """A parent and its children: CPU seconds (reaped children included) and summed RSS."""

    def __init__(self, name, parents):
        self.name = name
        self.parents = parents  # a callable: the parent pids now

    def pids(self):
        out = []
        for p in self.parents():
            out.append(p)
            out.extend(children_of(p))
        return out

    def cpu_s(self):
        total = 0
        for p in self.parents():
            st = proc_stat(p)
            if st:
                # Children that exited and were reaped are in the parent's cutime/cstime: nothing is lost.
                total += st[1] + st[2] + st[3] + st[4]
            for c in children_of(p):
                cst = proc_stat(c)
                if cst:
                    total += cst[1] + cst[2]
        return total / CLK_TCK

    def rss_mib(self):
        return sum(rss_kib(p) for p in self.pids()) / 1024.0


class PeakSampler:
    """Samples a group's RSS every 0.25 s while a row runs and keeps the largest."""

    def __init__(self, group):
        self.group, self.peak = group, 0.0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while True:
            self.peak = max(self.peak, self.group.rss_mib())
            if self.stop_event.wait(0.25):
                return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join()
        self.peak = max(self.peak, self.group.rss_mib())


# --------------------------------------------------------------------------------------------------------------
# wrk scripts. Every row's script ends with the same done(), which prints one JSON line the driver reads.
DONE_LUA = r'''
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCHRESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, e.status))
end
'''


def lua_str(s):
    """A Lua long string; callers put it inside brackets with spaces, since "[[" would open another one."""
    if "]==]" in s:
        raise BenchError("a request holds ']==]'")
    return "[==[" + s + "]==]"


def lua_static(method, headers, body=None):
    """One request, the same every time: wrk builds it once (the cheapest client loop)."""
    lines = [f"wrk.method = {lua_str(method)}"]
    for k, v in headers.items():
        lines.append(f"wrk.headers[ {lua_str(k)} ] = {lua_str(v)}")
    if body is not None:
        lines.append(f"wrk.body = {lua_str(body)}")
    return "\n".join(lines) + "\n" + DONE_LUA


def lua_rotating(requests, common_headers):
    """A list of (method, path, headers, body) built once per wrk thread and sent round robin; each thread starts
    at its own offset so that the threads do not write the same items at the same time."""
    lines = []
    for k, v in common_headers.items():
        lines.append(f"wrk.headers[ {lua_str(k)} ] = {lua_str(v)}")
    lines.append("local list = {")
    for method, path, headers, body in requests:
        hs = ", ".join(f"[ {lua_str(k)} ] = {lua_str(v)}" for k, v in headers.items())
        lines.append(f"  {{{lua_str(method)}, {lua_str(path)}, {{{hs}}}, {lua_str(body) if body else 'nil'}}},")
    lines.append("}")
    lines.append(r'''
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local built, i = nil, 0
request = function()
  if not built then
    built = {}
    for k, r in ipairs(list) do
      local h = {}
      for name, value in pairs(wrk.headers) do h[name] = value end
      for name, value in pairs(r[3]) do h[name] = value end
      built[k] = wrk.format(r[1], r[2], h, r[4])
    end
    i = ((tid or 1) - 1) * math.floor(#built / 2)
  end
  i = i % #built + 1
  return built[i]
end
''')
    return "\n".join(lines) + DONE_LUA


# --------------------------------------------------------------------------------------------------------------
# DynamoDB requests for the store's own rows, signed once each with botocore (dynalite checks no signature).
def ddb_item(key):
    item = {"cloneID": {"S": key}}
    for k, v in ITEM.items():
        item[k] = {"N": str(v)} if isinstance(v, (int, float)) else {"S": v}
    return item


def signed_ddb(host_port, target, body):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method="POST", url=f"http://{host_port}/", data=body.encode(), headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"DynamoDB_20120810.{target}"})
    SigV4Auth(Credentials("local", "local"), "dynamodb", "us-east-1").add_auth(req)
    return {k: v for k, v in req.headers.items() if k.lower() != "host"}


def ddb_get_script(host_port):
    body = json.dumps({"TableName": TABLE, "Key": {"cloneID": {"S": READ_ID}}}, separators=(",", ":"))
    return lua_static("POST", signed_ddb(host_port, "GetItem", body), body)


def ddb_put_script(host_port):
    reqs = []
    for n in range(SIGNED_PUTS):
        body = json.dumps({"TableName": TABLE, "Item": ddb_item(f"bench-d-{n:04d}")}, separators=(",", ":"))
        reqs.append(("POST", "/", signed_ddb(host_port, "PutItem", body), body))
    return lua_rotating(reqs, {})


# --------------------------------------------------------------------------------------------------------------
class Row:
    def __init__(self, key, what, store, conns):
        self.key, self.what, self.store, self.conns = key, what, store, conns
        self.rate = self.p50 = self.p99 = None
        self.errors = 0
        self.cpu_us = self.nginx_us = self.rss = None
        self.inflight = None
        self.relay_us = None
        self.requests = 0
        self.failed = None

    def store_label(self):
        return "—" if self.store is None else ("local" if self.store == "local" else f"relay {self.store} ms")


class Bench:
    def __init__(self):
        self.duration = env_int("DURATION", 10, 1)
        self.warmup = env_int("WARMUP", 1, 0)
        self.conns = env_int("CONNECTIONS", 32, 1)
        self.low_conns = env_int("LOW_CONNECTIONS", 16, 1)
        self.wrk_threads = env_int("WRK_THREADS", os.cpu_count() or 2, 1)
        self.py_procs = env_int("PY_PROCS", os.cpu_count() or 2, 1)
        self.relay_plan = []
        for part in re.split(r"[,\s]+", os.environ.get("RELAY", "0:32,10:64,50:256").strip()):
            if not part:
                continue
            m = re.fullmatch(r"(\d+):(\d+)", part)
            if not m or int(m.group(2)) < 1 or int(m.group(1)) > 60000:
                raise BenchError(f"RELAY: {part!r} is not DELAY_MS:CONNECTIONS")
            self.relay_plan.append((int(m.group(1)), int(m.group(2))))
        long_raw = os.environ.get("LONG_REQUESTS", "0")
        self.long_off = long_raw == "off"
        self.long_requests = 0 if self.long_off else env_int("LONG_REQUESTS", 0, 0)
        self.long_segment = env_int("LONG_SEGMENT", self.duration if not self.long_requests else 30, 1)
        self.long_max = env_int("LONG_MAX", 1800, 1)
        keys = ["ceiling", "health", "ddb-get", "ddb-put", "python-get", "clone-get", "clones-get",
                "clone-post", "clones-put", "list", "long", "metrics", "core"]
        self.metrics_rounds = env_int("METRICS_ROUNDS", 2, 1)
        rows = os.environ.get("ROWS", "").strip()
        self.selected = set(keys) if not rows else set(re.split(r"[,\s]+", rows))
        unknown = self.selected - set(keys)
        if unknown:
            raise BenchError(f"ROWS: unknown {sorted(unknown)}; known: {', '.join(keys)}")
        self.build = os.path.abspath(os.environ.get("CLONE_JOBS_BUILD") or os.path.join(ROOT, "build", "dev"))
        self.workers_env = os.environ.get("CLONE_JOBS_WORKERS")
        self.threads_env = os.environ.get("CLONE_JOBS_THREADS")
        self.keep = os.environ.get("BENCH_KEEP") == "1"
        self.rows = []
        self.long = None
        self.tmp = tempfile.mkdtemp(prefix="clone-jobs-bench-")
        self.var = os.path.join(self.tmp, "var")
        self.https_port = free_port()
        self.ddb_port = free_port()
        self.metrics_port = free_port()
        self.front_port = free_port()
        self.py_port = free_port()
        self.relay = None
        self.relay_port = None
        self.py = []
        self.front_pid_file = os.path.join(self.tmp, "front", "nginx.pid")
        self.stack_up = False
        self.key = None
        self.pool = Group("pool", self._pool_parent)
        self.gateway = Group("nginx", self._gateway_parent)
        self.front = Group("nginx", lambda: self._pid_file(self.front_pid_file))
        self.dynalite = Group("dynalite", lambda: self._pid_file(os.path.join(self.var, "run", "dynalite.pid")))
        self.python = Group("python", lambda: [p.pid for p in self.py if p.poll() is None])
        self.relay_group = Group("ddb-relay", lambda: [self.relay.pid] if self.relay and self.relay.poll() is None
                                 else [])

    # -- processes ---------------------------------------------------------------------------------------------
    @staticmethod
    def _pid_file(path):
        try:
            with open(path) as fh:
                first = fh.read().split()
            return [int(first[0])] if first and os.path.exists(f"/proc/{int(first[0])}") else []
        except (OSError, ValueError):
            return []

    def _pool_parent(self):
        return self._pid_file(os.path.join(self.var, "run", "workers.pid"))

    def _gateway_parent(self):
        return self._pid_file(os.path.join(self.var, "nginx", "nginx.pid"))

    def stack_env(self, endpoint=None, extra=None):
        env = os.environ.copy()
        for k in METRICS_OFF_ENV:
            env.pop(k, None)
        env.update(extra or {})
        env.update({"CLONE_JOBS_VAR": self.var, "CLONE_JOBS_PORT": str(self.https_port),
                    "CLONE_JOBS_DDB_PORT": str(self.ddb_port), "CLONE_JOBS_BUILD": self.build,
                    "CLONE_JOBS_METRICS_PORT": str(self.metrics_port)})
        env.pop("CLONE_JOBS_DDB_ENDPOINT", None)
        if endpoint:
            env["CLONE_JOBS_DDB_ENDPOINT"] = endpoint
        return env

    def stack(self, action, endpoint=None, extra=None):
        r = subprocess.run([os.path.join(ROOT, "scripts", "stack"), action], env=self.stack_env(endpoint, extra),
                           capture_output=True, text=True, timeout=START_TIMEOUT_S)
        if r.returncode != 0:
            raise BenchError(f"scripts/stack {action} failed:\n{r.stdout}{r.stderr}")
        self.stack_up = action != "stop"

    def admin(self, *args):
        r = subprocess.run([os.path.join(self.build, "clone-jobs-admin"), "--config",
                            os.path.join(self.var, "clone-jobs.conf"), *args],
                           capture_output=True, text=True, timeout=120, env=self.stack_env())
        if r.returncode != 0:
            raise BenchError(f"clone-jobs-admin {' '.join(args)} failed: {r.stdout}{r.stderr}")
        return r.stdout

    def start_relay(self):
        exe = os.path.join(self.build, "bench", "ddb-relay")
        if not os.access(exe, os.X_OK):
            raise BenchError(f"{exe} missing: scripts/build dev (it is a check program of Makefile.am)")
        self.relay = subprocess.Popen([exe, "--upstream-port", str(self.ddb_port)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
        m = re.fullmatch(r"PORT (\d+)", read_line(self.relay, "ddb-relay", 10))
        if not m:
            raise BenchError("ddb-relay did not say its port")
        self.relay_port = int(m.group(1))

    def relay_cmd(self, cmd):
        self.relay.stdin.write(cmd + "\n")
        self.relay.stdin.flush()
        return read_line(self.relay, "ddb-relay", 10)

    def relay_stats(self):
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", self.relay_cmd("stats"))}

    def start_python(self, endpoint):
        self.stop_python()
        env = os.environ.copy()
        env.update({"DYNAMODB_ENDPOINT": endpoint, "TABLE_NAME": TABLE, "AWS_ACCESS_KEY_ID": "local",
                    "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                    "AWS_EC2_METADATA_DISABLED": "true", "LAMBDA_LOG": os.path.join(self.tmp, "lambda.log")})
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
            env.pop(k, None)
        for _ in range(self.py_procs):
            self.py.append(subprocess.Popen([PY, os.path.join(ROOT, "bench", "lambda_shape.py"), str(self.py_port)],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env))
        for p in self.py:
            if read_line(p, "the Python Lambda shape", 60) != "READY":
                raise BenchError("the Python Lambda shape did not start (see lambda.log)")

    def stop_python(self):
        for p in self.py:
            if p.poll() is None:
                p.stdin.close()  # its stdin watcher exits the process
        for p in self.py:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.py = []

    def start_front(self):
        """nginx with the gateway's own TLS lines: the `return 200` ceiling and the proxy to the Python shape."""
        site = open(os.path.join(self.var, "nginx", "site.conf")).read()
        tls = [ln.strip() for ln in site.splitlines() if re.match(r"\s+ssl_\w+\s", ln)]
        listen = re.search(r"^\s*listen\s+\S+\s+(ssl[^;]*);", site, re.M)
        if not tls or not listen:
            raise BenchError("could not find the gateway's TLS lines in var/nginx/site.conf")
        gateway_conf = open(os.path.join(self.var, "nginx", "nginx.conf")).read()
        wp = re.search(r"^worker_processes\s+(\S+);", gateway_conf, re.M)
        front = os.path.join(self.tmp, "front")
        os.makedirs(os.path.join(front, "tmp"), exist_ok=True)
        user = "user root root;" if os.getuid() == 0 else ""
        conf = f"""# the bench's own nginx: the TLS lines below are copied from the gateway's site.conf
{user}
worker_processes {wp.group(1) if wp else 'auto'};
pid {self.front_pid_file};
error_log {front}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {front}/tmp/body;
    proxy_temp_path {front}/tmp/proxy;
    fastcgi_temp_path {front}/tmp/fastcgi;
    uwsgi_temp_path {front}/tmp/uwsgi;
    scgi_temp_path {front}/tmp/scgi;
    access_log off;
    upstream lambda_shape {{
        server 127.0.0.1:{self.py_port};
        keepalive 1024;
    }}
    server {{
        listen 127.0.0.1:{self.front_port} {listen.group(1)};
        server_tokens off;
        {chr(10).join('        ' + t for t in tls).strip()}
        location = /ceiling {{
            default_type application/json;
            return 200 '{{"status":"ok"}}';
        }}
        location /py/ {{
            proxy_pass http://lambda_shape/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout 29s;
        }}
    }}
}}
"""
        path = os.path.join(front, "nginx.conf")
        with open(path, "w") as fh:
            fh.write(conf)
        r = subprocess.run(["nginx", "-p", front, "-e", f"{front}/error.log", "-c", path], capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            raise BenchError(f"the bench's nginx did not start: {r.stderr}")
        # nginx binds before its start command returns: one request proves it answers.
        status, _ = self.https("GET", "/ceiling", port=self.front_port, key=None)
        if status != 200:
            raise BenchError(f"the bench's nginx answered {status} on /ceiling")

    def stop_front(self):
        pids = self._pid_file(self.front_pid_file)
        if not pids:
            return
        # The master is not our child (nginx daemonizes): a pidfd tells when it is gone.
        fd = os.pidfd_open(pids[0])
        try:
            os.kill(pids[0], signal.SIGTERM)
            if not select.select([fd], [], [], 10)[0]:
                os.kill(pids[0], signal.SIGKILL)
                select.select([fd], [], [], 10)
        finally:
            os.close(fd)

    def cleanup(self):
        for step in (self.stop_python, self.stop_front, self._stop_relay, self._stop_stack):
            try:
                step()
            except Exception as e:  # keep cleaning the rest
                log(f"cleanup: {e}")
        if self.keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _stop_relay(self):
        if self.relay and self.relay.poll() is None:
            self.relay.stdin.close()  # end of stdin: it exits
            try:
                self.relay.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.relay.kill()
                self.relay.wait()

    def _stop_stack(self):
        if self.stack_up or os.path.exists(os.path.join(self.var, "run")):
            self.stack("stop")

    # -- requests ----------------------------------------------------------------------------------------------
    def https(self, method, path, body=None, port=None, key="default"):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the stack's self-signed dev certificate, on loopback
        conn = http.client.HTTPSConnection("127.0.0.1", port or self.https_port, context=ctx, timeout=30)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["x-api-key"] = self.key if key == "default" else key
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def make_key_and_items(self):
        # A plan that never throttles: the numbers are the service's, not the usage plan's.
        self.admin("add-plan", "bench", "--rate", "100000", "--burst", "100000", "--no-reload")
        out = self.admin("add-key", "bench", "--plan", "bench")  # reloads nginx and waits for it
        m = re.search(r"^[A-Za-z0-9_-]{40}$", out, re.M)
        if not m:
            raise BenchError("clone-jobs-admin add-key printed no key")
        self.key = m.group(0)
        self.seed()

    def seed(self):
        for n in range(SEED_ITEMS + 1):
            cid = READ_ID if n == SEED_ITEMS else f"{READ_ID}-{n:02d}"
            status, body = self.https("PUT", f"/clones/{cid}", json.dumps(ITEM))
            if status not in (200, 201):
                raise BenchError(f"seeding PUT /clones/{cid}: {status} {body[:200]!r}")

    def check_stack(self):
        status, body = self.https("GET", f"/clone?cloneID={READ_ID}")
        if status != 200:
            raise BenchError(f"GET /clone through the stack: {status} {body[:200]!r}")

    # -- rows --------------------------------------------------------------------------------------------------
    def stack_script(self, key):
        h = {"x-api-key": self.key, "Content-Type": "application/json"}
        if key == "clone-post":
            reqs = [("POST", "/clone", {}, json.dumps(dict(ITEM, cloneID=f"bench-w-{n:04d}")))
                    for n in range(WRITE_IDS)]
            return lua_rotating(reqs, h), "/clone"
        if key == "clones-put":
            reqs = [("PUT", f"/clones/bench-p-{n:04d}", {}, json.dumps(ITEM)) for n in range(WRITE_IDS)]
            return lua_rotating(reqs, h), "/clones/bench-p-0000"
        path = {"health": "/health", "clone-get": f"/clone?cloneID={READ_ID}",
                "clones-get": f"/clones/{READ_ID}", "list": "/clones?limit=20"}[key]
        return lua_static("GET", h), path

    STACK_ROWS = [("health", "GET /health"), ("clone-get", "GET /clone?cloneID="),
                  ("clones-get", "GET /clones/{id}"), ("clone-post", "POST /clone"),
                  ("clones-put", "PUT /clones/{id}"), ("list", "GET /clones?limit=20")]

    def wrk(self, script_text, url, conns, seconds):
        path = os.path.join(self.tmp, "row.lua")
        with open(path, "w") as fh:
            fh.write(script_text)
        argv = ["wrk", f"-t{min(self.wrk_threads, conns)}", f"-c{conns}", f"-d{seconds}s",
                f"--timeout={WRK_TIMEOUT_S}s", "-s", path, url]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + WRK_TIMEOUT_S + 30)
        m = re.search(r"^BENCHRESULT (\{.*\})$", r.stdout, re.M)
        if r.returncode != 0 or not m:
            raise BenchError(f"wrk failed ({r.returncode}): {r.stdout[-400:]}{r.stderr[-400:]}")
        return json.loads(m.group(1))

    def fastcgi_backlog(self):
        """Connections nginx made to the pool's socket that no worker has accepted yet (ss's Recv-Q)."""
        sock = os.path.join(self.var, "run", "clone-jobs.sock")
        try:
            r = subprocess.run(["ss", "-xlnH"], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return 0
        for line in r.stdout.splitlines():
            f = line.split()
            if len(f) >= 5 and f[4] == sock:
                return int(f[2])
        return 0

    def wait_idle(self):
        """Waits until the pool has worked off what the last wrk left behind. wrk closes its connections at the end
        of a run, but requests already queued on the FastCGI socket are still accepted and served (the store call
        included), and would hold up the next row: at 50 ms and 256 connections, seconds of stale work."""
        end = time.monotonic() + DRAIN_MAX_S
        while True:
            backlog = self.fastcgi_backlog() if self.stack_up else 0
            inflight = self.relay_stats()["inflight"] if self.relay and self.relay.poll() is None else 0
            if backlog == 0 and inflight == 0:
                return
            if time.monotonic() > end:
                log(f"  still busy after {DRAIN_MAX_S} s ({backlog} queued, {inflight} in flight): measuring anyway")
                return
            time.sleep(0.05)  # polling the condition above, not waiting a fixed time

    def run_row(self, row, script_text, url, server, through_nginx=None, relay=False):
        if row.key not in self.selected:
            return None
        log(f"{row.what} [{row.store_label()}, {row.conns} connections, {self.duration} s]")
        try:
            self.wait_idle()
            if self.warmup:
                self.wrk(script_text, url, row.conns, self.warmup)
                self.wait_idle()
            if relay:
                self.relay_stats()  # restarts the peaks
            cpu0 = server.cpu_s()
            ng0 = through_nginx.cpu_s() if through_nginx else 0.0
            rl0 = self.relay_group.cpu_s() if relay else 0.0
            with PeakSampler(server) as rss:
                res = self.wrk(script_text, url, row.conns, self.duration)
            cpu1 = server.cpu_s()
            ng1 = through_nginx.cpu_s() if through_nginx else 0.0
            if relay:
                row.inflight = self.relay_stats().get("peak_inflight")
                if res["requests"]:
                    row.relay_us = (self.relay_group.cpu_s() - rl0) * 1e6 / res["requests"]
        except (BenchError, subprocess.TimeoutExpired) as e:
            row.failed = str(e).strip().splitlines()[0][:200] if str(e).strip() else "failed"
            log(f"  failed: {e}")
            self.rows.append(row)
            return row
        ok = res["requests"] - res["status"]
        secs = res["duration_us"] / 1e6
        row.requests = res["requests"]
        row.rate = ok / secs if secs > 0 else 0.0
        row.p50, row.p99 = res["p50_us"] / 1000.0, res["p99_us"] / 1000.0
        row.errors = res["status"] + res["connect"] + res["read"] + res["write"] + res["timeout"]
        if res["requests"] > 0:
            row.cpu_us = (cpu1 - cpu0) * 1e6 / res["requests"]
            if through_nginx:
                row.nginx_us = (ng1 - ng0) * 1e6 / res["requests"]
        row.rss = rss.peak
        self.rows.append(row)
        log(f"  {row.rate:,.0f} req/s, p50 {row.p50:.2f} ms, p99 {row.p99:.2f} ms, errors {row.errors}")
        return row

    def local_rows(self):
        c = self.conns
        base = f"https://127.0.0.1:{self.https_port}"
        self.run_row(Row("ceiling", "nginx `return 200`, same TLS (ceiling)", None, c),
                     lua_static("GET", {}), f"https://127.0.0.1:{self.front_port}/ceiling", self.front)
        ddb = f"127.0.0.1:{self.ddb_port}"
        self.run_row(Row("ddb-get", "dynalite GetItem, signed, straight to it", "local", c),
                     ddb_get_script(ddb), f"http://{ddb}/", self.dynalite)
        self.run_row(Row("ddb-put", "dynalite PutItem, signed, straight to it", "local", c),
                     ddb_put_script(ddb), f"http://{ddb}/", self.dynalite)
        self.run_row(Row("python-get", "Python Lambda shape (boto3) `GET /clone`", "local", c),
                     lua_static("GET", {}), f"https://127.0.0.1:{self.front_port}/py/clone?cloneID={READ_ID}",
                     self.python, through_nginx=self.front)
        for key, what in self.STACK_ROWS:
            script, path = self.stack_script(key)
            self.run_row(Row(key, f"this stack `{what}`", None if key == "health" else "local", c),
                         script, base + path, self.pool, through_nginx=self.gateway)

    def relay_rows(self):
        base = f"https://127.0.0.1:{self.https_port}"
        relay = f"127.0.0.1:{self.relay_port}"
        # The widest concurrency first, on the freshly started pool: its low-concurrency twin runs just before
        # it, so the pair measures what more requests in flight cost, not what earlier rows left behind.
        widest = max(self.relay_plan, key=lambda dc: dc[1])
        for delay, conns in sorted(self.relay_plan, key=lambda dc: -dc[1]):
            if self.relay_cmd(f"delay {delay}") != f"delay {delay}":
                raise BenchError("ddb-relay refused the delay")
            if (delay, conns) == widest and conns > self.low_conns and "clones-get" in self.selected:
                script, path = self.stack_script("clones-get")
                lo = self.run_row(Row("clones-get", "this stack `GET /clones/{id}` (memory pair, low)", delay,
                                      self.low_conns), script, base + path, self.pool, through_nginx=self.gateway,
                                  relay=True)
                if lo:
                    lo.mem_pair = "low"
            self.run_row(Row("ddb-get", "dynalite GetItem, signed, straight to it", delay, conns),
                         ddb_get_script(relay), f"http://{relay}/", self.dynalite, relay=True)
            self.run_row(Row("ddb-put", "dynalite PutItem, signed, straight to it", delay, conns),
                         ddb_put_script(relay), f"http://{relay}/", self.dynalite, relay=True)
            self.run_row(Row("python-get", "Python Lambda shape (boto3) `GET /clone`", delay, conns),
                         lua_static("GET", {}), f"https://127.0.0.1:{self.front_port}/py/clone?cloneID={READ_ID}",
                         self.python, through_nginx=self.front, relay=True)
            for key, what in self.STACK_ROWS:
                if key == "health":
                    continue  # touches no store
                script, path = self.stack_script(key)
                r = self.run_row(Row(key, f"this stack `{what}`", delay, conns), script, base + path, self.pool,
                                 through_nginx=self.gateway, relay=True)
                if r and key == "clones-get" and (delay, conns) == widest:
                    r.mem_pair = "high"

    def metrics_rows(self):
        """What the metrics (shared counters, listener) and usage counting cost on the request path: `GET /health` and
        `GET /clones/{id}` with them off and on, the pool started afresh for each, off and on alternating over
        METRICS_ROUNDS rounds so that a drift of the shared machine falls on both."""
        if "metrics" not in self.selected:
            return
        base = f"https://127.0.0.1:{self.https_port}"
        for rnd in range(self.metrics_rounds):
            for variant in ("off", "on"):
                log(f"metrics {variant} (round {rnd + 1} of {self.metrics_rounds}): the stack restarted")
                self.stack("stop")
                self.stack("start", extra=METRICS_OFF_ENV if variant == "off" else None)
                self.check_stack()
                for key, what in (("health", "GET /health"), ("clones-get", "GET /clones/{id}")):
                    script, path = self.stack_script(key)
                    row = self.run_row(Row("metrics", f"this stack `{what}`, metrics {variant}",
                                           None if key == "health" else "local", self.conns),
                                       script, base + path, self.pool, through_nginx=self.gateway)
                    if row:
                        row.metrics = (key, variant)

    def metrics_lines(self):
        lines = []
        for key, what in (("health", "GET /health"), ("clones-get", "GET /clones/{id}")):
            got = {}
            for variant in ("off", "on"):
                rows = [r for r in self.rows if getattr(r, "metrics", None) == (key, variant) and r.rate]
                if rows:
                    got[variant] = {f: sum(getattr(r, f) or 0 for r in rows) / len(rows)
                                    for f in ("rate", "p50", "p99", "cpu_us")}
            if len(got) < 2:
                lines.append(f"`{what}`: not measured in this run")
                continue
            off, on = got["off"], got["on"]
            lines.append(f"`{what}` (mean of {self.metrics_rounds} rounds): {off['rate']:,.0f} → {on['rate']:,.0f} "
                         f"req/s ({(on['rate'] / off['rate'] - 1) * 100:+.1f}%), p50 {off['p50']:.2f} → "
                         f"{on['p50']:.2f} ms, p99 {off['p99']:.2f} → {on['p99']:.2f} ms, pool CPU "
                         f"{off['cpu_us']:,.0f} → {on['cpu_us']:,.0f} µs/req ({on['cpu_us'] - off['cpu_us']:+,.1f})")
        return lines

    def long_run(self):
        """Pool RSS over many requests of every stack route: idle, after the first segment, middle, end."""
        if self.long_off or "long" not in self.selected:
            return
        h = {"x-api-key": self.key, "Content-Type": "application/json"}
        reqs = []
        for n in range(256):
            reqs += [("GET", f"/clone?cloneID={READ_ID}", {}, None), ("GET", f"/clones/{READ_ID}", {}, None),
                     ("PUT", f"/clones/bench-p-{n:04d}", {}, json.dumps(ITEM)),
                     ("POST", "/clone", {}, json.dumps(dict(ITEM, cloneID=f"bench-w-{n:04d}"))),
                     ("GET", "/clones?limit=20", {}, None)]
        script = lua_rotating(reqs, h)
        url = f"https://127.0.0.1:{self.https_port}/health"
        target = self.long_requests
        segments_max = 3 if not target else None
        log(f"long run: {'3 segments' if not target else f'until {target:,} requests, in segments'} of "
            f"{self.long_segment} s, every stack route in turn, {self.conns} connections")
        samples = [(0, self.pool.rss_mib())]
        total = errors = 0
        cpu0 = self.pool.cpu_s()
        t0 = time.monotonic()
        while True:
            self.wait_idle()
            res = self.wrk(script, url, self.conns, self.long_segment)
            total += res["requests"]
            errors += res["status"] + res["connect"] + res["read"] + res["write"] + res["timeout"]
            samples.append((total, self.pool.rss_mib()))
            log(f"  {total:,} requests, pool RSS {samples[-1][1]:.1f} MiB")
            if segments_max and len(samples) - 1 >= segments_max:
                break
            if target and total >= target:
                break
            if time.monotonic() - t0 + self.long_segment > self.long_max:
                log(f"  LONG_MAX={self.long_max} s reached before {target:,} requests")
                break
        cpu = self.pool.cpu_s() - cpu0
        first, last = samples[1], samples[-1]
        middle = min(samples[1:], key=lambda s: abs(s[0] - total / 2))
        self.long = {"idle": samples[0][1], "start": first, "middle": middle, "end": last, "requests": total,
                     "errors": errors, "cpu_us": cpu * 1e6 / total if total else None, "target": target}

    # -- the run -----------------------------------------------------------------------------------------------
    def machine(self):
        def sh(*argv):
            try:
                return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
            except OSError:
                return ""
        model = ""
        try:
            model = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")),
                         "")
        except OSError:
            pass
        mem = next((int(ln.split()[1]) for ln in open("/proc/meminfo") if ln.startswith("MemTotal:")), 0)
        os_name = ""
        try:
            os_name = re.search(r'^PRETTY_NAME="?([^"\n]*)', open("/etc/os-release").read(), re.M).group(1)
        except (OSError, AttributeError):
            pass
        commit = sh("git", "-C", ROOT, "rev-parse", "--short", "HEAD")
        dirty = " + uncommitted changes" if sh("git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no") else ""
        cfg = ""
        try:
            cfg = re.search(r"^\s+\$ (.*configure.*)$", open(os.path.join(self.build, "config.log")).read(),
                            re.M).group(1)
            cfg = re.sub(r"^\S*/configure", "configure", cfg)
        except (OSError, AttributeError):
            pass
        nginx_v = re.search(r"nginx/(\S+)", subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr)
        wrk_v = re.search(r"wrk (\S+)", sh("wrk", "-v") or subprocess.run(["wrk", "-v"], capture_output=True,
                                                                               text=True).stderr)
        versions = subprocess.run([PY, "-c", "import sys, boto3; print(sys.version.split()[0], boto3.__version__)"],
                                  capture_output=True, text=True).stdout.split()
        dyn = ""
        try:
            dyn = json.load(open(os.path.join(ROOT, "tools", "dynalite", "node_modules", "dynalite",
                                              "package.json")))["version"]
        except (OSError, ValueError, KeyError):
            pass
        return [
            f"date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
            f"machine: {os.cpu_count()} cores ({model}), {mem / 1048576:.0f} GiB, {os_name}, "
            f"Linux {platform.release()}",
            f"build: {os.path.relpath(self.build, ROOT)} at {commit}{dirty}" + (f" ({cfg})" if cfg else ""),
            f"tools: nginx {nginx_v.group(1) if nginx_v else '?'}, wrk {wrk_v.group(1) if wrk_v else '?'}, "
            f"dynalite {dyn or '?'}, Python {versions[0] if versions else '?'} + boto3 "
            f"{versions[1] if len(versions) > 1 else '?'}",
        ]

    def pool_shape(self):
        parents = self._pool_parent()
        kids = children_of(parents[0]) if parents else []
        kids = [k for k in kids if comm_of(k) != "cj-metrics"]  # the metrics listener is no worker
        threads = sorted({threads_of(k) for k in kids})
        return len(kids), threads

    def main(self):
        for tool in ("wrk", "nginx", "spawn-fcgi"):
            if not shutil.which(tool):
                raise BenchError(f"{tool} missing (bench/run installs what it needs; or apt-get install {tool})")
        head = self.machine()
        needs_relay = any(k in self.selected for k in ("ddb-get", "ddb-put", "python-get", "clone-get",
                                                       "clones-get", "clone-post", "clones-put", "list"))
        needs_relay = needs_relay and bool(self.relay_plan)
        needs_python = "python-get" in self.selected
        started = time.monotonic()

        log(f"stack in {self.var} (https {self.https_port}, dynalite {self.ddb_port}), store local")
        self.stack("start")
        self.make_key_and_items()
        self.check_stack()
        procs, threads = self.pool_shape()
        self.start_front()
        if needs_python:
            self.start_python(f"http://127.0.0.1:{self.ddb_port}")
        self.local_rows()
        self.long_run()
        self.metrics_rows()

        if needs_relay:
            log("stack again, its store now behind the relay")
            self.stop_python()
            self.stack("stop")
            self.start_relay()
            self.stack("start", endpoint=f"http://127.0.0.1:{self.relay_port}")
            self.check_stack()
            if needs_python:
                self.start_python(f"http://127.0.0.1:{self.relay_port}")
            self.relay_rows()
        elapsed = time.monotonic() - started
        self.report(head, procs, threads, elapsed)

    # -- the report --------------------------------------------------------------------------------------------
    def find(self, key, store, conns=None):
        for r in self.rows:
            if r.key == key and r.store == store and (conns is None or r.conns == conns) and \
                    getattr(r, "mem_pair", "") != "low" and r.rate is not None:
                return r
        return None

    def report(self, head, procs, threads, elapsed):
        out = []
        w = out.append
        w("## clone-jobs bench")
        w("")
        for line in head:
            w(f"- {line}")
        workers = self.workers_env if self.workers_env not in (None, "") else "unset (default: 2 per core)"
        thr = self.threads_env if self.threads_env not in (None, "") else "unset (default)"
        per = "/".join(str(t) for t in threads) or "?"
        observed = f"{procs} worker processes, threads per process: {per}"
        if self.threads_env not in (None, "", "0", "1") and threads and max(threads) == 1:
            observed += " (this build does not run threads: CLONE_JOBS_THREADS has no effect)"
        w(f"- settings: CLONE_JOBS_WORKERS={workers}, CLONE_JOBS_THREADS={thr}; observed: {observed}")
        plan = ", ".join(f"{d} ms/{c}" for d, c in self.relay_plan) or "none"
        w(f"- run: `bench/run`, {self.duration} s per row after {self.warmup} s of warm-up, wrk "
          f"-t{self.wrk_threads} --timeout {WRK_TIMEOUT_S}s, {self.conns} connections for local rows, relay "
          f"(delay/connections) {plan}; Python shape: {self.py_procs} processes; total {elapsed / 60:.1f} min")
        w("")
        w("| what | store | conns | req/s | p50 ms | p99 ms | errors | server CPU µs/req | nginx CPU µs/req "
          "| server RSS MiB | in flight at store |")
        w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        order = {"ceiling": 0, "health": 1, "ddb-get": 2, "ddb-put": 3, "python-get": 4, "clone-get": 5,
                 "clones-get": 6, "clone-post": 7, "clones-put": 8, "list": 9, "metrics": 10}

        def store_rank(r):
            return -1 if r.store is None else (0 if r.store == "local" else 1 + r.store)

        def f(v, fmt):
            return "—" if v is None else format(v, fmt)
        for r in sorted(self.rows, key=lambda r: (store_rank(r), r.conns != self.conns and r.store == "local",
                                                  order[r.key], r.conns)):
            if r.failed:
                w(f"| {r.what} | {r.store_label()} | {r.conns} | failed: {r.failed} | | | | | | | |")
                continue
            w(f"| {r.what} | {r.store_label()} | {r.conns} | {r.rate:,.0f} | {r.p50:.2f} | {r.p99:.2f} | "
              f"{r.errors} | {f(r.cpu_us, ',.0f')} | {f(r.nginx_us, ',.0f')} | {f(r.rss, '.1f')} | "
              f"{f(r.inflight, 'd')} |")
        w("")
        w("server = the worker pool (supervisor and workers) for this stack's rows, the Python processes for the "
          "Lambda shape, dynalite for the store's rows, nginx for the ceiling. CPU is utime+stime from /proc over "
          "the measured run divided by the requests wrk completed; RSS is the largest sum of VmRSS sampled during "
          "the run; in flight at store is the relay's peak of requests awaiting an answer. req/s counts 2xx "
          "answers only; errors are non-2xx answers plus socket errors and timeouts. The store's rows send requests "
          "signed once at the start (dynalite checks no signature); writes rotate over "
          f"{WRITE_IDS} items ({SIGNED_PUTS} for PutItem) so writers rarely race on one item.")
        relay_rows = [r for r in self.rows if r.relay_us is not None]
        n_relay = sum(r.requests for r in relay_rows)
        if n_relay:
            # Over all relay rows together: one row at a few dozen req/s holds too few clock ticks to say much.
            per = sum(r.relay_us * r.requests for r in relay_rows) / n_relay
            busiest = max(relay_rows, key=lambda r: r.rate or 0)
            w("")
            w(f"ddb-relay's own CPU: {per:,.0f} µs per request over the {n_relay:,} requests of the relay rows; "
              f"its busiest row ({busiest.what}, {busiest.store_label()}) ran at {busiest.rate:,.0f} req/s, "
              f"{busiest.rate * per / 1e4:.0f}% of one core at that cost.")
        w("")
        w("### Goals (issue 7)")
        w("")
        defaults = self.workers_env in (None, "", "0") and self.threads_env in (None, "")
        for line in self.goals(defaults):
            w(f"- {line}")
        w("")
        w("### The cost of metrics on the request path")
        w("")
        w("Rows `metrics off`: no metrics region or listener (`metrics_listen` empty) and no usage counting "
          "(`usage_block = 0`); `metrics on`: the stack's defaults (listener on, usage leases of 100).")
        w("")
        for line in self.metrics_lines():
            w(f"- {line}")
        w("")
        w("### Memory")
        w("")
        for line in self.memory_lines():
            w(f"- {line}")
        core = self.core()
        if core:
            w("")
            w("### CPU per operation (`bench_core`, no network)")
            w("")
            w("```")
            out.extend(core)
            w("```")
        text = "\n".join(out) + "\n"
        sys.stdout.write(text)
        sys.stdout.flush()
        dest = os.environ.get("BENCH_OUT")
        if dest:
            with open(dest, "w") as fh:
                fh.write(text)

    def core(self):
        exe = os.path.join(self.build, "bench", "bench_core")
        if "core" not in self.selected or not os.access(exe, os.X_OK):
            return []
        r = subprocess.run([exe], capture_output=True, text=True, timeout=300)
        return r.stdout.rstrip("\n").splitlines() if r.returncode == 0 else [f"bench_core failed: {r.stderr[:200]}"]

    @staticmethod
    def verdict(ok):
        return "**met**" if ok else "**not met**"

    def ratio_goal(self, label, ours, theirs, goal, note=""):
        if not ours or not theirs:
            return f"{label}: not measured in this run"
        ratio = ours.rate / theirs.rate if theirs.rate else 0.0
        errs = ""
        if ours.errors or theirs.errors:
            errs = f" (errors: ours {ours.errors}, reference {theirs.errors})"
        return (f"{label}: {ours.rate:,.0f} / {theirs.rate:,.0f} req/s = {ratio:.2f}× (goal ≥ {goal}×): "
                f"{self.verdict(ratio >= goal)}{errs}{note}")

    def goals(self, defaults):
        lines = []
        note = "" if defaults else " — settings are not the defaults, so this does not count for the goal"
        for delay, conns in ((50, 256), (10, 64)):
            lines.append(self.ratio_goal(
                f"store {delay} ms away, {conns} connections: `GET /clones/{{id}}` vs the store's GetItem through the "
                f"same relay", self.find("clones-get", delay, conns), self.find("ddb-get", delay, conns), 0.8, note))
        lines.append(self.ratio_goal("store local: `GET /clone` vs dynalite's GetItem",
                                     self.find("clone-get", "local", self.conns),
                                     self.find("ddb-get", "local", self.conns), 0.8))
        lines.append(self.ratio_goal("`GET /health` vs the nginx ceiling", self.find("health", None, self.conns),
                                     self.find("ceiling", None, self.conns), 0.5))
        ours, py = self.find("clone-get", "local", self.conns), self.find("python-get", "local", self.conns)
        if ours and py and ours.cpu_us and py.cpu_us:
            share = ours.cpu_us / py.cpu_us
            lines.append(f"worker CPU per `GET /clone`: {ours.cpu_us:,.0f} µs vs the Python shape's {py.cpu_us:,.0f} "
                         f"µs = 1/{py.cpu_us / ours.cpu_us:.1f} (goal ≤ 1/20): {self.verdict(share <= 1 / 20)}")
        else:
            lines.append("worker CPU per `GET /clone` vs the Python shape: not measured in this run")
        lines += self.memory_goals()
        return lines

    def memory_goals(self):
        lines = []
        lo = next((r for r in self.rows if getattr(r, "mem_pair", "") == "low" and r.rate is not None), None)
        hi = next((r for r in self.rows if getattr(r, "mem_pair", "") == "high" and r.rate is not None), None)
        if lo and hi and lo.rss is not None and hi.rss is not None:
            d_rss = hi.rss - lo.rss
            d_conns = hi.conns - lo.conns
            d_flight = (hi.inflight or 0) - (lo.inflight or 0)
            base = (f"RSS per extra request in flight (`GET /clones/{{id}}`, relay {hi.store} ms, {lo.conns} → "
                    f"{hi.conns} connections; in flight at the store {lo.inflight} → {hi.inflight}; pool "
                    f"{lo.rss:.1f} → {hi.rss:.1f} MiB): ")
            per_conn = d_rss / d_conns if d_conns else 0.0
            if d_flight >= max(4, d_conns // 4):
                per = d_rss / d_flight
                lines.append(base + f"{per * 1024:,.0f} KiB per request in flight ({per_conn * 1024:,.0f} KiB per "
                             f"connection) (goal ≤ 1 MiB): {self.verdict(per <= 1.0)}")
            else:
                lines.append(base + f"{per_conn * 1024:,.0f} KiB per connection, but the requests in flight at the "
                             "store hardly grew: the pool caps them, so this is not the goal's measure: "
                             "**not met**")
        else:
            lines.append("RSS per extra request in flight: not measured in this run")
        if self.long:
            L = self.long
            s, m, e = L["start"][1], L["middle"][1], L["end"][1]
            drift = (e - s) / s if s else 0.0
            counts = L["requests"] >= 1_000_000
            flat = abs(drift) <= 0.10 and abs(m - s) / s <= 0.10 if s else False
            text = (f"pool RSS over {L['requests']:,} requests: {s:.1f} MiB after the first segment, {m:.1f} at "
                    f"{L['middle'][0]:,}, {e:.1f} at the end ({drift * 100:+.1f}%; goal: flat within 10% over 1M): ")
            if counts:
                text += self.verdict(flat)
            else:
                text += (f"{'flat' if flat else 'not flat'} so far, but fewer than 1M requests: "
                         "`LONG_REQUESTS=1000000 bench/run` for the goal's check")
            lines.append(text)
        else:
            lines.append("pool RSS over a long run: not measured in this run")
        return lines

    def memory_lines(self):
        lines = []
        pool_rows = [r for r in self.rows if r.key in dict(self.STACK_ROWS) and r.rss is not None]
        if pool_rows:
            big = max(pool_rows, key=lambda r: r.rss)
            lines.append(f"pool RSS: largest {big.rss:.1f} MiB ({big.what}, {big.store_label()}, {big.conns} "
                         "connections)")
        py_rows = [r for r in self.rows if r.key == "python-get" and r.rss is not None]
        if py_rows:
            big = max(py_rows, key=lambda r: r.rss)
            lines.append(f"Python shape RSS: largest {big.rss:.1f} MiB ({self.py_procs} processes, {big.store_label()}, "
                         f"{big.conns} connections)")
        if self.long:
            L = self.long
            lines.append(f"long run: {L['requests']:,} requests of every stack route, {L['errors']} errors, pool "
                         f"idle {L['idle']:.1f} MiB before it, worker CPU {L['cpu_us']:,.0f} µs per request")
        return lines or ["no stack rows in this run"]


def main():
    bench = None

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)  # unwinds into the cleanup below

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        bench = Bench()
        bench.main()
        return 0
    except BenchError as e:
        log(str(e))
        return 1
    finally:
        if bench:
            bench.cleanup()


if __name__ == "__main__":
    sys.exit(main())
