# test_fleet.py — three boxes on one machine (issue 10): nginx + pool + sync each on 127.0.0.2, .3 and .4, one
# dynalite, keys and plans in the keys table (key_store = dynamodb), a round-robin balancer nginx in front.
import concurrent.futures
import http.client
import os
import re
import signal
import socket
import socketserver
import subprocess
import threading
import time
import uuid

import pytest

from gateway_stack import ENDPOINT, PLANS, SRC, WORK, Gateway, ddb_call, free_port, wait_until

HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
INTERVAL_S = 60  # sync_interval_s: heartbeats stay live for 3 of them (each test syncs what it counts on)


class Box(Gateway):
    """One box of the fleet: its own keys_dir, socket and nginx on its own loopback address, the fleet's tables."""

    def __init__(self, index, tables, host):
        self.box_id = f"box{index + 1}"
        super().__init__(host=host, extra_config={
            "key_store": "dynamodb", "keys_table": tables["keys"], "box_id": self.box_id,
            "sync_interval_s": str(INTERVAL_S),
            # One secret for the fleet: a cursor made by one pool is read by another.
            "cursor_secret": tables["cursor_secret"]})
        self.table, self.usage_table = tables["items"], tables["usage"]

    def sync(self, env=None, check=True):
        e = os.environ.copy()
        e.update(env or {})
        r = subprocess.run([os.path.join(os.environ.get("CLONE_JOBS_BUILD_DIR", ""), "clone-jobs-admin"),
                            "--config", self.config, "sync"] + ([] if self.nginx else ["--no-reload"]),
                           capture_output=True, text=True, timeout=60, env=e)
        if check and r.returncode != 0:
            raise RuntimeError(f"sync on {self.box_id}: {r.returncode}\n{r.stderr}")
        return r

    def restart(self):
        """The pool and nginx again, on the same address and port (the balancer names it), after kill_box."""
        self.start_pool()
        self.nginx = subprocess.Popen(["nginx", "-p", self.dir, "-c", self.nginx_conf, "-g", "daemon off;"],
                                      stdout=subprocess.DEVNULL,
                                      stderr=open(os.path.join(self.logs, "nginx-stderr.log"), "a"))
        if not wait_until(lambda: self._answers() or self.nginx.poll() is not None, 20) or self.nginx.poll() is not None:
            raise RuntimeError(f"{self.box_id} did not come back; see {self.logs}")

    def file(self, name):
        with open(os.path.join(self.keys_dir, name)) as fh:
            return fh.read()


class Balancer:
    """A plain nginx in front of the boxes: round robin, TLS re-encrypted to each box."""

    def __init__(self, boxes):
        self.dir = os.path.join(WORK, "balancer-" + uuid.uuid4().hex[:8])
        os.makedirs(os.path.join(self.dir, "tmp"))
        self.boxes = boxes
        self.nginx = None

    def write_conf(self):
        servers = "".join(f"    server {b.host}:{b.port} max_fails=1 fail_timeout=5s;\n" for b in self.boxes)
        t = os.path.join(self.dir, "tmp")
        with open(os.path.join(self.dir, "nginx.conf"), "w") as fh:
            fh.write(("user root;\n" if os.geteuid() == 0 else "") +
                     f"worker_processes 1;\npid {self.dir}/nginx.pid;\nerror_log {self.dir}/error.log warn;\n"
                     "events { worker_connections 1024; }\n"
                     "http {\n"
                     f"  client_body_temp_path {t}/body; proxy_temp_path {t}/proxy; fastcgi_temp_path {t}/f;\n"
                     f"  uwsgi_temp_path {t}/u; scgi_temp_path {t}/s;\n"
                     f"  access_log {self.dir}/access.log;\n"
                     "  upstream boxes {\n" + servers + "  }\n"
                     f"  server {{ listen 127.0.0.1:{self.port};\n"
                     "    location / { proxy_pass https://boxes; proxy_ssl_verify off; proxy_http_version 1.1;\n"
                     "      proxy_set_header Host $http_host; proxy_connect_timeout 2s; proxy_read_timeout 10s;\n"
                     "      proxy_next_upstream error timeout; }\n"
                     "  }\n}\n")

    def start(self):
        for _ in range(5):
            self.port = free_port()
            self.write_conf()
            self.nginx = subprocess.Popen(["nginx", "-p", self.dir, "-c", os.path.join(self.dir, "nginx.conf"),
                                           "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                          stderr=open(os.path.join(self.dir, "stderr.log"), "a"))
            if wait_until(lambda: self._up() or self.nginx.poll() is not None, 20) and self.nginx.poll() is None:
                return
            self.nginx.wait()
        raise RuntimeError("the balancer did not start; see " + self.dir)

    def set_boxes(self, boxes):
        """Balance over these boxes from now on (returns once the old nginx workers are gone)."""
        self.boxes = boxes
        self.write_conf()
        subprocess.run([os.path.join(SRC, "scripts", "nginx-reload"), os.path.join(self.dir, "nginx.pid"), "-p",
                        self.dir, "-c", os.path.join(self.dir, "nginx.conf")], check=True, capture_output=True,
                       timeout=60)

    def _up(self):
        try:
            return self.request("GET", "/prod/health")[0] in (200, 403)
        except OSError:
            return False

    def request(self, method, path, key=None, body=None, timeout=15):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            h = {"x-api-key": key} if key else {}
            if body is not None:
                h["Content-Type"] = "application/json"
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def stop(self):
        if self.nginx and self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait(timeout=15)


@pytest.fixture(scope="module")
def fleet():
    if not ENDPOINT:
        pytest.fail("CLONE_JOBS_TEST_ENDPOINT is not set: run the suite through tests/run")
    suffix = uuid.uuid4().hex[:8]
    tables = {"items": "fl-" + suffix, "usage": "fl-" + suffix + "-usage", "keys": "fl-" + suffix + "-keys",
              "cursor_secret": uuid.uuid4().hex}
    boxes = [Box(i, tables, h) for i, h in enumerate(HOSTS)]
    balancer = None
    try:
        for b in boxes:
            b.write_config()
        # Box 1's admin makes the tables, the plans and the keys: in the store, not in any box's files.
        boxes[0].seed()
        for b in boxes:
            b.keys = boxes[0].keys
            b.sync()
        for b in boxes:
            b.start_servers()
        balancer = Balancer(boxes)
        balancer.start()
        yield boxes, balancer
    finally:
        if balancer:
            balancer.stop()
        for b in boxes:
            b.stop()


def status_on(box, key, path="/health"):
    return box.request("GET", path, key=key).status


def test_the_store_holds_digests_and_audit_fields_never_a_key(fleet):
    boxes, _ = fleet
    items = ddb_call("Scan", {"TableName": boxes[0].extra_config["keys_table"], "ConsistentRead": True})["Items"]
    by_id = {i["id"]["S"]: i for i in items}
    alice = by_id["key#alice"]
    assert alice["status"]["S"] == "active" and re.fullmatch(r"[0-9a-f]{64}", alice["digest"]["S"])
    assert alice["created_by"]["S"] and alice["created"]["S"].endswith("Z")
    text = repr(items)
    for key in boxes[0].keys.values():
        assert key not in text
    assert by_id["plan#tiny"]["rate"]["N"] == "1" and by_id["plan#tiny"]["created_by"]["S"]
    assert {"box#box1", "box#box2", "box#box3"} <= set(by_id)


def test_a_key_added_on_box_1_works_on_boxes_2_and_3_after_their_sync(fleet):
    boxes, _ = fleet
    key = boxes[0].add_key("fleet-added", "standard", reload=False)
    # In the store only: no box serves it before its sync.
    assert [status_on(b, key) for b in boxes] == [403, 403, 403]
    for b in boxes[1:]:
        b.sync()
    assert [status_on(b, key) for b in boxes[1:]] == [200, 200]
    assert status_on(boxes[0], key) == 403
    boxes[0].sync()
    assert status_on(boxes[0], key) == 200


def test_a_key_revoked_on_box_2_is_refused_by_all_three_after_their_sync_and_not_before(fleet):
    boxes, _ = fleet
    key = boxes[0].add_key("fleet-revoked", "standard", reload=False)
    for b in boxes:
        b.sync()
    assert [status_on(b, key) for b in boxes] == [200, 200, 200]
    r = boxes[1].admin("revoke-key", "fleet-revoked", "--by", "test-operator")
    assert r.returncode == 0
    # Not before each box's sync.
    assert [status_on(b, key) for b in boxes] == [200, 200, 200]
    served = []
    for b in boxes:
        b.sync()
        served.append([status_on(x, key) for x in boxes])
    assert served == [[403, 200, 200], [403, 403, 200], [403, 403, 403]]
    items = ddb_call("GetItem", {"TableName": boxes[0].extra_config["keys_table"],
                                 "Key": {"id": {"S": "key#fleet-revoked"}}, "ConsistentRead": True})["Item"]
    assert items["status"]["S"] == "revoked" and items["revoked_by"]["S"] == "test-operator"
    # Names are never reused, and a second revocation changes nothing (conditional writes).
    assert boxes[2].admin("add-key", "fleet-revoked", "--plan", "standard", check=False).returncode == 2


def test_a_key_moved_on_box_3_is_in_its_new_plan_on_every_box_after_their_sync(fleet):
    boxes, _ = fleet
    key = boxes[0].add_key("fleet-moved", "standard", reload=False)
    for b in boxes:
        b.sync()
    r = boxes[2].admin("move-key", "fleet-moved", "--plan", "tiny", "--by", "mover")
    assert r.returncode == 0, r.stderr
    assert boxes[2].admin("move-key", "fleet-moved", "--plan", "no-such-plan", check=False).returncode == 2
    def row(b):
        rows = [line.split("\t") for line in b.file("keys.tsv").splitlines() if line.startswith("fleet-moved\t")]
        assert len(rows) == 1, rows
        return rows[0]
    for b in boxes:
        assert row(b)[1] == "standard"  # not before the box's sync
        b.sync()
        digest = row(b)[4]
        assert row(b)[1] == "tiny" and f'{digest} "tiny";' in b.file("api-plans.map")
    # tiny is 1 r/s, burst 3 in the store: a third each, at least 1 r/s, burst 1. The third request in a row is 429.
    assert [status_on(boxes[0], key) for _ in range(3)] == [200, 200, 429]
    item = ddb_call("GetItem", {"TableName": keys_table(boxes), "Key": {"id": {"S": "key#fleet-moved"}},
                                "ConsistentRead": True})["Item"]
    assert item["plan"]["S"] == "tiny" and item["moved_by"]["S"] == "mover"


def test_a_sync_with_nothing_new_changes_no_file_and_does_not_reload(fleet):
    boxes, _ = fleet
    boxes[0].sync()
    before = {n: os.stat(os.path.join(boxes[0].keys_dir, n)).st_mtime_ns for n in ("api-keys.map", "keys.tsv")}
    r = boxes[0].sync()
    assert "unchanged" in r.stderr and "reloading" not in r.stderr
    assert before == {n: os.stat(os.path.join(boxes[0].keys_dir, n)).st_mtime_ns for n in before}


def test_each_box_enforces_its_share_of_each_plans_rate_and_burst(fleet):
    boxes, _ = fleet
    for b in boxes:
        b.sync()
    for b in boxes:
        r = b.sync()
        assert "3 live boxes" in r.stderr, r.stderr
    # standard 1000/1000 -> 334/334 per box; small 2/6 -> 1/2; tiny 1/3 -> 1 (at least 1 r/s)/1.
    zones, limits = boxes[2].file("plan-zones.conf"), boxes[2].file("plan-limits.conf")
    assert "zone=plan_standard:1m rate=334r/s;" in zones and "zone=plan_small:1m rate=1r/s;" in zones
    assert "zone=plan_tiny:1m rate=1r/s;" in zones
    assert "limit_req zone=plan_standard burst=334 nodelay;" in limits
    assert "limit_req zone=plan_small burst=2 nodelay;" in limits
    # The quota is the plan's whole quota: it is counted in the store, across the boxes.
    assert 'daily5 "5/DAY";' in boxes[2].file("plan-quota.map")


def test_the_store_unreachable_keeps_the_last_keys_then_the_first_sync_after_applies_the_changes(fleet):
    boxes, _ = fleet
    box = boxes[2]
    key = boxes[0].add_key("fleet-during-outage", "standard", reload=False)
    boxes[0].admin("revoke-key", "bob")
    dead = {"CLONE_JOBS_ENDPOINT": f"http://127.0.0.1:{free_port()}", "CLONE_JOBS_DDB_MAX_ATTEMPTS": "2",
            "CLONE_JOBS_DDB_CONNECT_TIMEOUT_MS": "200", "CLONE_JOBS_DDB_MAX_TOTAL_MS": "1000"}
    files = {n: box.file(n) for n in ("api-keys.map", "keys.tsv", "plan-zones.conf")}
    for _ in range(2):
        r = box.sync(env=dead, check=False)
        assert r.returncode == 1 and "keeping the last files" in r.stderr, r.stderr
    assert files == {n: box.file(n) for n in files}
    assert status_on(box, box.keys["alice"]) == 200 and status_on(box, box.keys["bob"]) == 200
    assert status_on(box, key) == 403
    box.sync()
    assert status_on(box, key) == 200 and status_on(box, box.keys["bob"]) == 403
    for b in boxes[:2]:
        b.sync()


class StoreProxy:
    """A TCP proxy to dynalite that can be stopped (every connection cut) and started again on the same port."""

    def __init__(self):
        self.target = os.environ["CLONE_JOBS_TEST_DYNALITE"].split("//", 1)[1].split(":")
        self.port = free_port()
        self.server = None
        self.conns = []
        self.lock = threading.Lock()

    def start(self):
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                try:
                    up = socket.create_connection((proxy.target[0], int(proxy.target[1])), timeout=10)
                except OSError:
                    return
                with proxy.lock:
                    proxy.conns += [self.request, up]

                def pump(a, b):
                    try:
                        while True:
                            data = a.recv(65536)
                            if not data:
                                break
                            b.sendall(data)
                    except OSError:
                        pass
                    for x in (a, b):
                        try:
                            x.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                t = threading.Thread(target=pump, args=(up, self.request), daemon=True)
                t.start()
                pump(self.request, up)
                t.join(10)
                up.close()

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.conns = []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


def test_a_long_running_sync_rides_out_a_store_outage_and_applies_what_changed_meanwhile(fleet):
    """sync --every 1 on box 3 reaches the store through a proxy, which is stopped for a while: the passes fail and
    say so, the box serves its last keys; the first pass after the proxy is back applies the changes."""
    boxes, _ = fleet
    box = boxes[2]
    proxy = StoreProxy()
    proxy.start()
    log_path = os.path.join(box.logs, "sync-outage.log")
    log = open(log_path, "a")
    env = dict(os.environ, CLONE_JOBS_ENDPOINT=proxy.url, CLONE_JOBS_DDB_MAX_ATTEMPTS="2",
               CLONE_JOBS_DDB_CONNECT_TIMEOUT_MS="200", CLONE_JOBS_DDB_MAX_TOTAL_MS="800")
    old = boxes[0].add_key("fleet-outage-old", "standard", reload=False)
    proc = subprocess.Popen([os.path.join(os.environ["CLONE_JOBS_BUILD_DIR"], "clone-jobs-admin"), "--config",
                             box.config, "sync", "--every", "1"], stdout=log, stderr=log, env=env)

    def logged(text):
        with open(log_path) as fh:
            return fh.read().count(text)
    try:
        assert wait_until(lambda: status_on(box, old) == 200, 15)
        proxy.stop()
        assert wait_until(lambda: logged("keeping the last files") >= 2, 15)
        new = boxes[0].add_key("fleet-outage-new", "standard", reload=False)
        boxes[0].admin("revoke-key", "fleet-outage-old")
        failed_before = logged("keeping the last files")
        assert wait_until(lambda: logged("keeping the last files") >= failed_before + 2, 15)
        # Still the last keys: the old one served, the new one not yet.
        assert status_on(box, old) == 200 and status_on(box, new) == 403
        proxy.start()
        back = time.monotonic()
        assert wait_until(lambda: status_on(box, new) == 200 and status_on(box, old) == 403, 15)
        print(f"store back: the changes made meanwhile served after {time.monotonic() - back:.2f} s")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        proxy.stop()
    box.sync()


def test_a_store_answer_missing_keys_is_refused(fleet):
    """A box pointed at another (empty, or foreign) keys table keeps its files: it never serves an empty key set."""
    boxes, _ = fleet
    box = boxes[1]
    files = box.file("api-keys.map")
    r = box.sync(env={"CLONE_JOBS_KEYS_TABLE": "fl-no-such-table"}, check=False)
    assert r.returncode == 1 and "keeping the last files" in r.stderr
    other = "fl-" + uuid.uuid4().hex[:8] + "-keys"
    ddb_call("CreateTable", {"TableName": other, "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                             "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"})
    wait_until(lambda: ddb_call("DescribeTable", {"TableName": other})["Table"]["TableStatus"] == "ACTIVE", 20)
    r = box.sync(env={"CLONE_JOBS_KEYS_TABLE": other}, check=False)
    assert r.returncode == 1 and "holds no plans and no keys" in r.stderr, r.stderr
    ddb_call("PutItem", {"TableName": other, "Item": {
        "id": {"S": "plan#other"}, "kind": {"S": "plan"}, "name": {"S": "other"}, "rate": {"N": "5"},
        "burst": {"N": "5"}, "quota": {"N": "0"}, "period": {"S": "-"}}})
    r = box.sync(env={"CLONE_JOBS_KEYS_TABLE": other}, check=False)
    assert r.returncode == 1 and "missing from the store's answer" in r.stderr, r.stderr
    assert box.file("api-keys.map") == files
    assert status_on(box, box.keys["alice"]) == 200


def test_a_quota_is_exact_across_the_three_boxes_under_concurrent_load(fleet):
    boxes, balancer = fleet
    key = boxes[0].add_key("fleet-quota", "daily5", reload=False)
    for b in boxes:
        b.sync()
    with concurrent.futures.ThreadPoolExecutor(24) as ex:
        statuses = list(ex.map(lambda _: balancer.request("GET", "/prod/health", key=key)[0], range(60)))
    assert statuses.count(200) == 5, statuses
    assert statuses.count(429) == 55, statuses



def keys_table(boxes):
    return boxes[0].extra_config["keys_table"]


def test_a_bad_item_in_the_store_is_refused_and_the_last_files_kept(fleet):
    boxes, _ = fleet
    box = boxes[0]
    files = {n: box.file(n) for n in ("api-keys.map", "keys.tsv")}
    ddb_call("PutItem", {"TableName": keys_table(boxes), "Item": {
        "id": {"S": "key#broken"}, "kind": {"S": "key"}, "name": {"S": "broken"}, "plan": {"S": "standard"},
        "status": {"S": "active"}, "created": {"S": "2026-12-01T00:00:00Z"}, "digest": {"S": "not-a-digest"}}})
    try:
        r = box.sync(check=False)
        assert r.returncode == 1 and "item key#broken: not a key" in r.stderr, r.stderr
        assert files == {n: box.file(n) for n in files}
        assert status_on(box, box.keys["alice"]) == 200
    finally:
        ddb_call("DeleteItem", {"TableName": keys_table(boxes), "Key": {"id": {"S": "key#broken"}}})
    box.sync()


def test_heartbeats_decide_each_boxs_share(fleet):
    """A fourth box's fresh heartbeat makes every share a quarter; once older than 3 intervals it counts no more."""
    boxes, _ = fleet
    box = boxes[0]
    for b in boxes:
        b.sync()
    now = int(time.time())
    try:
        ddb_call("PutItem", {"TableName": keys_table(boxes), "Item": {
            "id": {"S": "box#ghost"}, "kind": {"S": "box"}, "box": {"S": "ghost"}, "seen": {"N": str(now)}}})
        r = box.sync()
        assert "4 live boxes" in r.stderr and "reloading" in r.stderr, r.stderr
        assert "zone=plan_standard:1m rate=250r/s;" in box.file("plan-zones.conf")
        ddb_call("PutItem", {"TableName": keys_table(boxes), "Item": {
            "id": {"S": "box#ghost"}, "kind": {"S": "box"}, "box": {"S": "ghost"},
            "seen": {"N": str(now - 3 * INTERVAL_S - 1)}}})
        r = box.sync()
        assert "3 live boxes" in r.stderr, r.stderr
        assert "zone=plan_standard:1m rate=334r/s;" in box.file("plan-zones.conf")
    finally:
        ddb_call("DeleteItem", {"TableName": keys_table(boxes), "Key": {"id": {"S": "box#ghost"}}})


def test_sync_every_applies_a_new_key_within_the_interval_plus_a_reload(fleet):
    boxes, _ = fleet
    box = boxes[2]
    log = open(os.path.join(box.logs, "sync-every.log"), "a")
    proc = subprocess.Popen([os.path.join(os.environ["CLONE_JOBS_BUILD_DIR"], "clone-jobs-admin"), "--config",
                             box.config, "sync", "--every", "1"], stdout=log, stderr=log)
    try:
        key = boxes[0].add_key("fleet-every", "standard", reload=False)
        added = time.monotonic()
        assert wait_until(lambda: status_on(box, key) == 200, 15)
        took = time.monotonic() - added
        assert took < 1 + 5, took
        print(f"sync --every 1: a new key served after {took:.2f} s")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
    box.sync()


def test_a_key_driven_hard_through_the_balancer_gets_the_plans_rate_within_the_tolerance(fleet):
    """Plan 30 r/s, burst 0: each of the three boxes enforces 10 r/s. Over a 4 s window with more demand than
    that, the fleet admits rate x window within +-20 %, plus one request per box (limit_req admits the first)."""
    boxes, balancer = fleet
    boxes[0].admin("add-plan", "fleet-rate", "--rate", "30", "--burst", "0")
    key = boxes[0].add_key("fleet-rate-client", "fleet-rate", reload=False)
    for b in boxes:
        b.sync()
    window = 4.0
    end = time.monotonic() + window

    def drive(_):
        counts = {}
        while time.monotonic() < end:
            st = balancer.request("GET", "/prod/health", key=key)[0]
            counts[st] = counts.get(st, 0) + 1
        return counts

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(drive, range(8)))
    total = {}
    for c in results:
        for st, n in c.items():
            total[st] = total.get(st, 0) + n
    admitted, asked = total.get(200, 0), sum(total.values())
    print(f"rate through the balancer: {admitted} of {asked} admitted in {window} s (plan 30 r/s): {total}")
    assert set(total) <= {200, 429}, total
    assert asked > 2 * 30 * window, total
    assert 30 * window * 0.8 <= admitted <= 30 * window * 1.2 + 3, total



def test_with_gateway_worker_sync_renders_the_workers_key_store_and_reloads_nothing(fleet):
    """No nginx: the workers read keys.tsv and plans.tsv (digests, each plan's share), group-readable; the
    reload command would fail if it ran."""
    boxes, _ = fleet
    for b in boxes:
        b.sync()
    d = os.path.join(WORK, "worker-box-" + uuid.uuid4().hex[:8])
    os.makedirs(d)
    config = os.path.join(d, "clone-jobs.conf")
    with open(boxes[0].config) as src, open(config, "w") as fh:
        fh.write(src.read() + f"gateway = worker\nkeys_dir = {d}/keys\nnginx_reload_command = false\n"
                 "box_id = worker-box\n")
    r = subprocess.run([os.path.join(os.environ["CLONE_JOBS_BUILD_DIR"], "clone-jobs-admin"), "--config", config,
                        "sync"], capture_output=True, text=True, timeout=60)
    try:
        assert r.returncode == 0 and "files changed" in r.stderr and "reloading" not in r.stderr, r.stderr
        assert "4 live boxes" in r.stderr, r.stderr
        with open(os.path.join(d, "keys", "keys.tsv")) as fh:
            rows = [line.split("\t") for line in fh.read().splitlines()]
        assert {"alice", "quota-client"} <= {row[0] for row in rows}
        assert oct(os.stat(os.path.join(d, "keys", "keys.tsv")).st_mode & 0o777) == "0o640"
        with open(os.path.join(d, "keys", "plans.tsv")) as fh:
            assert "standard\t250\t250\t0\t-\n" in fh.read()
    finally:
        ddb_call("DeleteItem", {"TableName": keys_table(boxes), "Key": {"id": {"S": "box#worker-box"}}})


def test_the_iam_policies_keep_the_keys_table_from_the_workers():
    import json
    def load(name):
        with open(os.path.join(SRC, "deploy", name)) as fh:
            return json.load(fh)["Statement"]
    workers = load("iam-policy.json")
    assert not [st for st in workers if "clone-jobs-keys" in json.dumps(st["Resource"])]
    box = load("iam-gateway-box-policy.json")
    actions = {a for st in box for a in st["Action"]}
    assert actions == {"dynamodb:Scan", "dynamodb:GetItem", "dynamodb:PutItem"}
    put = [st for st in box if "dynamodb:PutItem" in st["Action"]][0]
    assert put["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["box#*"]
    admin = load("iam-admin-policy.json")
    assert {a for st in admin for a in st["Action"]} == {"dynamodb:Scan", "dynamodb:PutItem", "dynamodb:UpdateItem"}
    assert all(st["Resource"].endswith(":table/clone-jobs-keys") for st in box + admin)



def drive(balancer, key, seconds, threads=8):
    """Ask as fast as threads clients can for seconds; returns {status: count}."""
    end = time.monotonic() + seconds

    def one(_):
        counts = {}
        while time.monotonic() < end:
            st = balancer.request("GET", "/prod/health", key=key)[0]
            counts[st] = counts.get(st, 0) + 1
        return counts
    total = {}
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        for c in ex.map(one, range(threads)):
            for st, n in c.items():
                total[st] = total.get(st, 0) + n
    return total


def test_while_a_fourth_box_joins_the_fleet_stays_within_the_stated_bound(fleet):
    """Plan 30 r/s, burst 0. A fourth box (127.0.0.5) syncs (a quarter: 8 r/s) and joins the balancer while the
    other three still enforce a third (10 r/s): at most 30 x (1 + 1/4) + 3 per second until they sync; after
    their sync, 4 x 8 = 32 (30 + rounding). Then the box leaves again."""
    boxes, balancer = fleet
    boxes[0].admin("add-plan", "fleet-join", "--rate", "30", "--burst", "0")
    key = boxes[0].add_key("fleet-join-client", "fleet-join", reload=False)
    for b in boxes:
        b.sync()
    tables = {"items": boxes[0].table, "usage": boxes[0].usage_table, "keys": keys_table(boxes),
              "cursor_secret": boxes[0].extra_config["cursor_secret"]}
    fourth = Box(3, tables, "127.0.0.5")
    window = 4.0
    try:
        fourth.write_config()
        fourth.keys = boxes[0].keys
        r = fourth.sync()
        assert "4 live boxes" in r.stderr, r.stderr
        fourth.start_servers()
        balancer.set_boxes(boxes + [fourth])
        joining = drive(balancer, key, window)
        for b in boxes:
            assert "4 live boxes" in b.sync().stderr
        joined = drive(balancer, key, window)
        print(f"a box joining, plan 30 r/s over {window} s: {joining.get(200, 0)} admitted before the others' sync "
              f"(bound {30 * 1.25 * window + 3 * window:.0f}), {joined.get(200, 0)} after (4 x 8 r/s = "
              f"{32 * window:.0f})")
        assert set(joining) <= {200, 429} and set(joined) <= {200, 429}, (joining, joined)
        assert joining.get(200, 0) <= (30 * 1.25 + 3) * window * 1.1 + 4, joining
        assert 32 * window * 0.8 <= joined.get(200, 0) <= 32 * window * 1.1 + 4, joined
    finally:
        balancer.set_boxes(boxes)
        fourth.stop()
        ddb_call("DeleteItem", {"TableName": keys_table(boxes), "Key": {"id": {"S": "box#box4"}}})
        for b in boxes:
            b.sync()


def kill_box(box):
    """SIGKILL the box's nginx (master and workers) and pool (supervisor and workers): the box is gone."""
    pids = []
    for proc in (box.nginx, box.pool):
        if proc and proc.poll() is None:
            # The parent first: a living nginx master or pool supervisor would start new workers in place of the
            # killed ones, and those would keep the port.
            pids.append(proc.pid)
            try:
                with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as fh:
                    pids += [int(p) for p in fh.read().split()]
            except OSError:
                pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for proc in (box.nginx, box.pool):
        if proc:
            proc.wait(timeout=10)


def test_a_box_killed_mid_load_fails_only_its_requests_in_flight_and_loses_no_answered_write(fleet):
    """Box 2 is killed, then started again at the end. GETs move to the other boxes (nginx retries them on an error); a POST already
    sent to the killed box is not retried (non-idempotent), so at most the requests in flight there fail."""
    boxes, balancer = fleet
    # A plan far above the load: a 429 would be the throttle's, not the kill's (each box's share is a third).
    boxes[0].admin("add-plan", "fleet-big", "--rate", "30000", "--burst", "30000")
    key = boxes[0].add_key("fleet-kill-client", "fleet-big", reload=False)
    for b in boxes:
        b.sync()
    logged = len(balancer_log(balancer))
    threads, stop_at = 6, time.monotonic() + 20
    killed = {"at": None}
    results = []  # (kind, status, cloneID)

    def load(n):
        i = 0
        out = []
        while time.monotonic() < stop_at and (killed["at"] is None or time.monotonic() < killed["at"] + 2):
            i += 1
            if i % 2:
                cid = f"kill-{n}-{i}-{uuid.uuid4().hex[:6]}"
                began = time.monotonic()
                try:
                    st = balancer.request("POST", "/prod/clones", key=key,
                                          body='{"cloneID": "%s", "status": "new"}' % cid)[0]
                except OSError:
                    st = 0
                out.append(("POST", st, cid, began, time.monotonic()))
            else:
                began = time.monotonic()
                try:
                    st = balancer.request("GET", "/prod/health", key=key)[0]
                except OSError:
                    st = 0
                out.append(("GET", st, None, began, time.monotonic()))
        return out

    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        futures = [ex.submit(load, n) for n in range(threads)]
        # Kill once the load is well under way.
        assert wait_until(lambda: len(balancer_log(balancer)) > logged + 60, 15)
        before = time.monotonic()
        kill_box(boxes[1])
        killed["at"] = time.monotonic()
        for f in futures:
            results += f.result()
    failed = [r for r in results if not 200 <= r[1] < 300]
    at = killed["at"]
    print(f"box killed mid-load: {len(results)} requests, {len(failed)} failed: "
          f"{[(r[0], r[1], round(r[3] - at, 3), round(r[4] - at, 3)) for r in failed]}")
    assert len(results) > 100
    # Every failure was in flight while the box was being killed (begun before it was gone, answered after the
    # kill began).
    assert [r for r in failed if not (r[3] <= at and r[4] >= before)] == [], \
        (at, failed, "".join(open(os.path.join(balancer.dir, "error.log")).readlines()[-10:]))
    assert [r for r in failed if r[0] == "GET"] == [], failed
    assert len(failed) <= threads, failed
    written = [r[2] for r in results if r[0] == "POST" and 200 <= r[1] < 300]
    for cid in written:
        item = ddb_call("GetItem", {"TableName": boxes[0].table, "Key": {"cloneID": {"S": cid}},
                                    "ConsistentRead": True})
        assert "Item" in item, cid
    # Back, for the tests that run after this one (in any order): same port, same files.
    boxes[1].restart()


def balancer_log(balancer):
    try:
        with open(os.path.join(balancer.dir, "access.log")) as fh:
            return fh.readlines()
    except OSError:
        return []



@pytest.fixture(scope="module")
def tiers():
    """Tiers apart: nginx on 127.0.0.2 with no pool of its own, fastcgi_servers naming the pools of 127.0.0.3 and .4
    (spawn-fcgi -a/-p), which run no nginx. Tables of its own."""
    suffix = uuid.uuid4().hex[:8]
    tables = {"items": "tier-" + suffix, "usage": "tier-" + suffix + "-usage", "keys": "tier-" + suffix + "-keys",
              "cursor_secret": uuid.uuid4().hex}
    pools = [Box(10 + i, tables, h) for i, h in enumerate(HOSTS[1:])]
    addresses = [(p.host, free_port()) for p in pools]
    front = Box(9, tables, HOSTS[0])
    front.extra_config["fastcgi_servers"] = " ".join(f"{h}:{port}" for h, port in addresses)
    try:
        for p in pools:
            p.write_config()
        front.write_config()
        front.seed()
        front.sync()
        for p, address in zip(pools, addresses):
            p.start_pool(tcp=address)
        front.start_servers(pool=False)
        yield front, pools, addresses
    finally:
        front.stop()
        for p in pools:
            p.stop()


def test_the_whole_postman_collection_passes_through_a_gateway_only_box_and_two_pool_only_boxes(tiers):
    """The contract (postman/, as test_newman.py runs it against one box) through the tiers."""
    from test_newman import EXPECTED_REQUESTS, NEWMAN, COLLECTION, ENVIRONMENT, failure_lines
    front, pools, _ = tiers
    key = front.add_key("newman-tiers", "standard", reload=False)
    front.sync()
    assert wait_until(lambda: front.request("GET", "/health", key=key).status == 200, 20)
    report_file = os.path.join(front.dir, "newman.json")
    r = subprocess.run([NEWMAN, "run", COLLECTION, "-e", ENVIRONMENT, "--env-var", f"baseUrl={front.base_url}",
                        "--env-var", f"apiKey={key}", "--insecure", "--timeout-request", "10000",
                        "--reporters", "cli,json", "--reporter-json-export", report_file, "--color", "off"],
                       capture_output=True, text=True, timeout=180, cwd=SRC)
    import json
    with open(report_file) as fh:
        report = json.load(fh)
    stats = report["run"]["stats"]
    assert r.returncode == 0 and not report["run"].get("failures"), "\n".join(failure_lines(report))
    assert stats["requests"]["total"] == EXPECTED_REQUESTS and stats["assertions"]["failed"] == 0, stats


def test_a_gateway_only_box_serves_get_put_delete_through_two_pool_only_boxes_over_tcp(tiers):
    """Both pools serve, and a stopped one is passed over (max_fails); it is started again at the end."""
    front, pools, addresses = tiers
    suffix = uuid.uuid4().hex[:8]
    site = open(os.path.join(front.dir, "site.conf")).read()
    for h, port in addresses:
        assert f"server {h}:{port} max_fails=2 fail_timeout=10s;" in site
    assert "fastcgi_next_upstream error timeout;" in site and "unix:" not in site
    key = front.keys["alice"]
    ids = []
    for i in range(6):
        cid = f"tier-{suffix}-{i}"
        r = front.request("PUT", f"/clones/{cid}", body={"status": "new", "n": i}, key=key)
        assert r.status in (200, 201), (r.status, r.body)
        ids.append(r.header("x-amzn-RequestId"))
        r = front.request("GET", f"/clones/{cid}", key=key)
        assert r.status == 200 and r.json()["n"] == i, (r.status, r.body)
        ids.append(r.header("x-amzn-RequestId"))
        r = front.request("DELETE", f"/clones/{cid}", key=key)
        assert r.status in (200, 204), (r.status, r.body)
        ids.append(r.header("x-amzn-RequestId"))
        r = front.request("GET", f"/clones/{cid}", key=key)
        assert r.status == 404
        ids.append(r.header("x-amzn-RequestId"))
    # Round robin: each pool served some of them (its log holds their request ids).
    assert wait_until(lambda: all(any(i in p.pool_log_text() for i in ids) for p in pools), 10)
    # One pool stopped: the GETs go to the other one.
    pools[0].stop()
    try:
        statuses = [front.request("GET", "/health", key=key).status for _ in range(10)]
        assert statuses == [200] * 10, statuses
    finally:
        pools[0].start_pool(tcp=addresses[0])  # back, for the tests that run after this one

def test_import_moves_one_boxs_files_into_the_keys_table_and_every_key_keeps_working():
    """From key_store = files to dynamodb: the digests move, so no client needs a new key; a second import adds
    nothing; sync renders the same maps as the files did."""
    d = os.path.join(WORK, "import-" + uuid.uuid4().hex[:8])
    os.makedirs(d)
    suffix = uuid.uuid4().hex[:8]
    admin = os.path.join(os.environ["CLONE_JOBS_BUILD_DIR"], "clone-jobs-admin")
    config = os.path.join(d, "clone-jobs.conf")
    with open(config, "w") as fh:
        fh.write(f"table = imp-{suffix}\nusage_table = imp-{suffix}-usage\nkeys_table = imp-{suffix}-keys\n"
                 f"endpoint = {ENDPOINT}\nregion = us-east-1\nkeys_dir = {d}/files\nnginx_reload_command = true\n"
                 "box_id = import-box\n")

    def run(*args, store="files", keys_dir=None):
        env = dict(os.environ, CLONE_JOBS_KEY_STORE=store)
        if keys_dir:
            env["CLONE_JOBS_KEYS_DIR"] = keys_dir
        return subprocess.run([admin, "--config", config] + list(args), capture_output=True, text=True,
                              timeout=60, env=env)

    assert run("add-plan", "gold", "--rate", "9", "--burst", "3").returncode == 0
    assert run("add-key", "one", "--plan", "gold").returncode == 0
    assert run("add-key", "two", "--plan", "gold").returncode == 0
    assert run("revoke-key", "two").returncode == 0
    assert run("import").returncode == 2  # files: nothing to import into
    assert run("create-table", store="dynamodb").returncode == 0
    r = run("import", store="dynamodb")
    assert r.returncode == 0 and "1 plans and 2 keys added" in r.stderr, r.stderr
    r = run("import", store="dynamodb")
    assert r.returncode == 0 and "0 plans and 0 keys added" in r.stderr and "2 keys were there" in r.stderr
    r = run("sync", store="dynamodb", keys_dir=f"{d}/synced")
    assert r.returncode == 0, r.stderr
    for name in ("api-keys.map", "api-plans.map", "plan-zones.conf", "plan-limits.conf", "keys.tsv"):
        with open(f"{d}/files/{name}") as a, open(f"{d}/synced/{name}") as b:
            assert a.read() == b.read(), name
    r = run("list-keys", store="dynamodb")
    assert [line.split("\t")[::3] for line in r.stdout.splitlines()[1:]] == [["one", "active"], ["two", "revoked"]]
