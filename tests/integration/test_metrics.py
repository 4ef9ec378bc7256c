# test_metrics.py — the pool's metrics, status page and usage per key, read back exactly after known traffic through
# the real gateway: counters by route and status class, histograms, DynamoDB throttles, the gateway's own 403s.
import concurrent.futures
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway_stack import BUILD, SRC, Gateway, free_port, proxy_call, wait_until

# A bound for the events the tests wait for (a counter reaching a value, a held request): not a timing threshold.
EVENT_BOUND_S = 20
USAGE_BLOCK = 10
SLOW_MS = 300


def metrics_config(port, logs):
    return {"metrics_listen": f"127.0.0.1:{port}", "access_log": f"{logs}/access.log",
            "slow_request_ms": str(SLOW_MS), "usage_block": str(USAGE_BLOCK), "ddb_max_attempts": "3"}


@pytest.fixture(scope="module")
def gw():
    """A gateway of its own whose pool has a metrics listener (a fresh port: its counters start at zero)."""
    g = Gateway()
    g.metrics_port = free_port()
    g.extra_config.update(metrics_config(g.metrics_port, g.logs))
    try:
        g.start()
        # A port found free may be taken before the pool binds it: then the pool says so, and runs again on another.
        for attempt in range(5):
            if wait_until(lambda: _answers(g) or "no metrics listener" in g.pool_log_text(), EVENT_BOUND_S) \
                    and _answers(g):
                break
            assert attempt < 4, "the metrics listener never answered; see " + g.pool_log
            restart_pool(g, port=free_port())
        g.admin("add-plan", "daily1000", "--rate", "1000", "--burst", "1000", "--quota", "1000", "--period", "DAY")
        yield g
    finally:
        g.stop()
    problems = g.pool_problems()
    if problems:
        pytest.fail("the metrics gateway's pool logged problems:\n" + "\n".join(problems[:20]))


@pytest.fixture(autouse=True)
def no_faults():
    proxy_call("POST", "/__proxy/reset", {})
    yield
    proxy_call("POST", "/__proxy/reset", {})


def _answers(g):
    try:
        return get(g, "/metrics")[0] == 200
    except OSError:
        return False


def restart_pool(g, port=None):
    """Stop the pool with SIGTERM (every worker settles its leases), then start it again."""
    g.pool.send_signal(signal.SIGTERM)
    g.pool.wait(timeout=30)
    if port:
        g.metrics_port = port
        with open(g.config) as fh:
            text = re.sub(r"metrics_listen = \S+", f"metrics_listen = 127.0.0.1:{port}", fh.read())
        with open(g.config, "w") as fh:
            fh.write(text)
    g.start_pool(workers=2)
    assert wait_until(lambda: _answers(g), EVENT_BOUND_S), "the metrics listener did not come back"


def get(g, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{g.metrics_port}{path}", timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def scrape(g):
    """Every sample of /metrics as {(name, ((label, value), ...)): value}, parsed by Prometheus' own client."""
    status, ctype, text = get(g, "/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4"), (status, ctype)
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples, name, **labels):
    """The sum of every sample of name whose labels include these."""
    return sum(v for (n, ls), v in samples.items()
               if n == name and all(dict(ls).get(k) == w for k, w in labels.items()))


def put_items(g, key, ids):
    for cid in ids:
        r = g.request("PUT", "/clones/" + cid, body={"n": 1}, key=key)
        assert r.status in (200, 201), (r.status, r.body)


ITEM_ROUTE = {"route": "/clones/{cloneID}", "method": "GET"}


def test_known_traffic_is_counted_exactly(gw):
    """7 GETs of /clones/{id} (4 found, 3 missing, the first throttled once by DynamoDB and retried) and 2 requests
    the gateway refuses with 403: the counters move by exactly that, and the histograms count every request."""
    key = gw.keys["alice"]
    ids = ["m-" + uuid.uuid4().hex[:8] for _ in range(4)]
    put_items(gw, key, ids)
    before = scrape(gw)
    proxy_call("POST", "/__proxy/fault", {"mode": "throttle", "count": 1, "operation": "GetItem"})
    answers = [gw.request("GET", "/clones/" + cid, key=key).status for cid in ids]
    answers += [gw.request("GET", "/clones/missing-" + uuid.uuid4().hex[:8], key=key).status for _ in range(3)]
    assert answers == [200] * 4 + [404] * 3
    refused = [gw.request("GET", "/clones/" + ids[0]).status,                      # no key
               gw.request("GET", "/clones/" + ids[0], key="not-a-key-" + "x" * 30).status]  # unknown key
    assert refused == [403, 403]
    # nginx logs a request after answering it: wait for the access log to show both refusals.
    assert wait_until(lambda: value(scrape(gw), "clone_jobs_gateway_responses_total", route="/clones/{cloneID}",
                                    method="GET", status="403") >= 2, EVENT_BOUND_S)
    after = scrape(gw)

    def d(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    def dt(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)
    assert d("clone_jobs_requests_total", status_class="2xx", **ITEM_ROUTE) == 4
    assert d("clone_jobs_requests_total", status_class="4xx", **ITEM_ROUTE) == 3
    assert dt("clone_jobs_requests_total") == 7, "the 403s never reached a worker"
    assert d("clone_jobs_gateway_responses_total", route="/clones/{cloneID}", method="GET", status="403") == 2
    assert d("clone_jobs_dynamodb_throttles_total", operation="GetItem") == 1
    assert d("clone_jobs_dynamodb_retries_total", operation="GetItem") == 1
    assert d("clone_jobs_dynamodb_calls_total", operation="GetItem") == 7
    assert dt("clone_jobs_dynamodb_errors_total") == 0, "a retried throttle is not an error"
    # The histograms: one observation per request, +Inf equal to the count, buckets never decreasing.
    assert d("clone_jobs_request_duration_seconds_count", **ITEM_ROUTE) == 7
    assert dt("clone_jobs_request_duration_seconds_count") == dt("clone_jobs_requests_total") == 7
    assert d("clone_jobs_request_duration_seconds_bucket", le="+Inf", **ITEM_ROUTE) == 7
    assert d("clone_jobs_dynamodb_duration_seconds_count", **ITEM_ROUTE) == 7
    assert d("clone_jobs_dynamodb_duration_seconds_sum", **ITEM_ROUTE) > 0
    bounds = sorted((float(dict(ls)["le"]), v) for (n, ls), v in after.items()
                    if n == "clone_jobs_request_duration_seconds_bucket" and dict(ls)["route"] == "/clones/{cloneID}"
                    and dict(ls)["method"] == "GET")
    assert [v for _, v in bounds] == sorted(v for _, v in bounds)
    assert bounds[-1][1] == value(after, "clone_jobs_request_duration_seconds_count", **ITEM_ROUTE)


def test_a_store_error_is_counted_by_operation_and_outcome(gw):
    """DynamoDB failing every attempt (3, ddb_max_attempts) is a 503 and one unavailable GetItem."""
    key = gw.keys["alice"]
    before = scrape(gw)
    proxy_call("POST", "/__proxy/fault", {"mode": "http500", "count": 3, "operation": "GetItem"})
    assert gw.request("GET", "/clones/any-" + uuid.uuid4().hex[:6], key=key).status == 503
    after = scrape(gw)
    assert value(after, "clone_jobs_dynamodb_errors_total", operation="GetItem", outcome="unavailable") - \
        value(before, "clone_jobs_dynamodb_errors_total", operation="GetItem", outcome="unavailable") == 1
    assert value(after, "clone_jobs_requests_total", status_class="5xx", **ITEM_ROUTE) - \
        value(before, "clone_jobs_requests_total", status_class="5xx", **ITEM_ROUTE) == 1


def test_a_slow_request_is_counted_and_logged_with_its_request_id(gw):
    key = gw.keys["alice"]
    cid = "slow-" + uuid.uuid4().hex[:8]
    put_items(gw, key, [cid])
    before = scrape(gw)
    proxy_call("POST", "/__proxy/fault", {"mode": "delay", "count": 1, "delay_ms": SLOW_MS + 200,
                                          "operation": "GetItem"})
    r = gw.request("GET", "/clones/" + cid, key=key)
    assert r.status == 200
    rid = r.header("x-amzn-RequestId")
    after = scrape(gw)
    assert value(after, "clone_jobs_slow_requests_total") - value(before, "clone_jobs_slow_requests_total") == 1
    lines = [json.loads(line) for line in gw.pool_log_text().splitlines() if '"slow_request"' in line]
    mine = [line for line in lines if line.get("requestId") == rid]
    assert mine and mine[0]["level"] == "warn" and mine[0]["latencyMs"] >= SLOW_MS, lines[-3:]


def test_the_status_page_names_a_request_held_open_by_the_store(gw):
    """The store holds a GetItem: `clone-jobs-admin status` shows that request (by the id the client gets) as the
    longest-running one, in the text page and the JSON."""
    key = gw.keys["alice"]
    cid = "held-" + uuid.uuid4().hex[:8]
    put_items(gw, key, [cid])
    proxy_call("POST", "/__proxy/fault", {"mode": "hold", "count": 1, "operation": "GetItem"})
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(gw.request, "GET", "/clones/" + cid, key=key)
        try:
            assert wait_until(lambda: proxy_call("GET", "/__proxy/stats")["held"] >= 1, EVENT_BOUND_S)
            text = gw.admin("status").stdout
            doc = json.loads(gw.admin("status", "--json").stdout)
        finally:
            proxy_call("POST", "/__proxy/release", {})
        r = future.result(timeout=EVENT_BOUND_S)
    assert r.status == 200
    rid = r.header("x-amzn-RequestId")
    longest = doc["longestRunning"]
    assert longest and longest["requestId"] == rid, doc
    assert longest["method"] == "GET" and longest["path"] == gw.stage + "/clones/" + cid
    assert doc["pool"]["requestsInFlight"] >= 1 and doc["pool"]["threadsBusy"] >= 1
    assert doc["pool"]["processesServing"] == 2 and len(doc["processes"]) == 2
    assert 0 < doc["pool"]["threads"] <= 2 * 64  # each worker's 64 threads, once they have all started
    assert re.search(r"^longest-running request: " + re.escape(rid) + r" GET ", text, re.M), text
    assert re.search(r"^requests in flight: +[1-9]", text, re.M), text
    # Once answered, nothing is in flight.
    doc = json.loads(gw.admin("status", "--json").stdout)
    assert doc["longestRunning"] is None and doc["pool"]["requestsInFlight"] == 0, doc


def test_counters_stay_exact_under_concurrency(gw):
    """16 clients at once over the 2 processes' threads: every request counted once, none lost or doubled."""
    key = gw.keys["bob"]
    before = scrape(gw)
    n_clients, per_client = 16, 12
    with concurrent.futures.ThreadPoolExecutor(n_clients) as pool:
        statuses = list(pool.map(lambda i: [gw.request("GET", "/health", key=key).status for _ in range(per_client)],
                                 range(n_clients)))
    assert all(s == [200] * per_client for s in statuses)
    after = scrape(gw)
    health = {"route": "/health", "method": "GET"}
    n = n_clients * per_client
    assert value(after, "clone_jobs_requests_total", status_class="2xx", **health) - \
        value(before, "clone_jobs_requests_total", status_class="2xx", **health) == n
    assert value(after, "clone_jobs_request_duration_seconds_count", **health) - \
        value(before, "clone_jobs_request_duration_seconds_count", **health) == n
    assert value(after, "clone_jobs_requests_in_flight") == 0


def usage(g, *args):
    r = g.admin("usage", *args, "--json")
    return json.loads(r.stdout)


def days_around_now():
    now = time.time()
    return sorted({time.strftime("%Y-%m-%d", time.gmtime(now - 86400)), time.strftime("%Y-%m-%d", time.gmtime(now))})


def used(g, name, first_day):
    """Requests of key name since first_day (two days at most, in case the test runs over midnight UTC)."""
    doc = usage(g, name, "--from", first_day)
    return sum(pair[0] for pair in doc["items"][name]), doc["items"][name][-1][1]


def test_usage_of_three_keys_across_a_two_process_pool_is_within_the_bound(gw):
    """Three fresh keys (two without a quota, one with a daily quota) after known traffic: while the pool runs,
    each day's count is at most 2 processes x (usage_block - 1) over the truth and never under; once the pool
    stopped cleanly (its leases settled), exact. A key whose plan has no quota is counted too."""
    tag = uuid.uuid4().hex[:6]
    names = {f"use-a-{tag}": ("standard", 23), f"use-b-{tag}": ("standard", 41), f"use-q-{tag}": ("daily1000", 7)}
    keys = {}
    for name, (plan, _) in names.items():
        keys[name] = gw.add_key(name, plan)
    first_day = days_around_now()[0]
    before = {name: used(gw, name, first_day)[0] for name in names}
    assert before == {name: 0 for name in names}
    # Many connections at once, so both processes serve each key.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        jobs = [pool.submit(gw.request, "GET", "/health", key=keys[name])
                for name, (_, n) in names.items() for _ in range(n)]
        assert [j.result().status for j in jobs] == [200] * len(jobs)
    bound = 2 * (USAGE_BLOCK - 1)
    for name, (plan, n) in names.items():
        got, remaining = used(gw, name, first_day)
        assert n <= got <= n + bound, (name, n, got, bound)
        if plan == "daily1000":
            assert remaining == 1000 - got
        else:
            assert remaining is None
    restart_pool(gw)
    for name, (plan, n) in names.items():
        got, _ = used(gw, name, first_day)
        assert got == n, (name, n, got)
    table = gw.admin("usage", f"use-a-{tag}").stdout
    assert re.search(rf"^use-a-{tag}\s+\d{{4}}-\d\d-\d\d\s+23\s+-$", table, re.M), table


def test_a_killed_worker_is_a_restart_and_its_counts_stay(gw):
    """SIGKILL to a worker: the supervisor replaces it, counts a restart, and folds the dead process's counters into
    the totals, so no counter goes back."""
    key = gw.keys["alice"]
    for _ in range(6):
        assert gw.request("GET", "/health", key=key).status == 200
    before = scrape(gw)
    victim = gw.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    assert wait_until(lambda: victim not in gw.worker_pids() and len(gw.worker_pids()) == 2, EVENT_BOUND_S)
    assert wait_until(lambda: value(scrape(gw), "clone_jobs_pool_restarts_total") >= 1 +
                      value(before, "clone_jobs_pool_restarts_total"), EVENT_BOUND_S)
    after = scrape(gw)
    assert value(after, "clone_jobs_pool_restarts_total") - value(before, "clone_jobs_pool_restarts_total") == 1
    for (name, labels), v in before.items():
        if name.endswith(("_total", "_count", "_bucket")) and name != "clone_jobs_pool_restarts_total":
            assert after.get((name, labels), 0) >= v, (name, labels, v, after.get((name, labels)))


def test_the_metrics_listener_is_restarted_when_it_dies(gw):
    comm = {}
    for pid in open(f"/proc/{gw.pool.pid}/task/{gw.pool.pid}/children").read().split():
        with open(f"/proc/{pid}/comm") as fh:
            comm[int(pid)] = fh.read().strip()
    listener = [pid for pid, name in comm.items() if name == "cj-metrics"]
    assert len(listener) == 1, comm
    os.kill(listener[0], signal.SIGKILL)
    assert wait_until(lambda: _answers(gw), EVENT_BOUND_S + 5)
    assert value(scrape(gw), "clone_jobs_processes", state="serving") == 2


def test_the_listener_answers_only_its_own_paths(gw):
    for path in ("/", "/metrics/x", "/status/../metrics"):
        with pytest.raises(urllib.error.HTTPError) as e:
            get(gw, path)
        assert e.value.code == 404
    status, ctype, text = get(gw, "/status?json")
    assert status == 200 and ctype == "application/json" and json.loads(text)["pool"]["processesServing"] == 2


DASHBOARD = os.path.join(SRC, "deploy", "grafana", "clone-jobs-dashboard.json")


def dashboard_queries():
    with open(DASHBOARD) as fh:
        board = json.load(fh)
    exprs = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                exprs.append(node["expr"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(board)
    return board, exprs


def test_every_metric_the_dashboard_queries_is_exported(gw):
    """deploy/grafana's dashboard: each series it queries is a family /metrics declares, and each label it groups or
    filters by is one that family's samples carry."""
    board, exprs = dashboard_queries()
    assert len(exprs) >= 10, "the dashboard lost its panels"
    key = gw.keys["alice"]
    gw.request("GET", "/clones/none-" + uuid.uuid4().hex[:6], key=key)
    gw.request("GET", "/clones/x")  # a gateway 403
    assert wait_until(lambda: total(scrape(gw), "clone_jobs_gateway_responses_total") > 0, EVENT_BOUND_S)
    status, _, text = get(gw, "/metrics")
    families = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            families.setdefault(s.name, set()).update(s.labels)
    declared = set(re.findall(r"^# TYPE (\S+) (\w+)", text, re.M))
    names = {n for n, _ in declared}
    histograms = {n for n, t in declared if t == "histogram"}
    counters = {n for n, t in declared if t == "counter"}
    for expr in exprs:
        for series in re.findall(r"\b(clone_jobs_[a-z_]+)", expr):
            base = re.sub(r"_(bucket|sum|count)$", "", series)
            assert series in names or (base in histograms and series != base) or \
                (series.endswith("_total") and series in counters), f"{series} in {expr!r} is not exported"
            labels = families.get(series, set())
            if labels:
                used_labels = set()
                for group in re.findall(r"\bby\s*\(([^)]*)\)", expr):
                    used_labels |= {x.strip() for x in group.split(",") if x.strip()}
                for sel in re.findall(re.escape(series) + r"\{([^}]*)\}", expr):
                    used_labels |= set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", sel))
                used_labels -= {"le", "instance", "job"}
                assert used_labels <= labels, (series, used_labels - labels, expr)
