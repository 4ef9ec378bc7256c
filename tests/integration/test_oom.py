# test_oom.py — the out-of-memory sweep, sqlite's way: for each kind of request, every allocation the worker's
# code (and json-c for it) makes is failed in turn, N = 1, 2, ... to the last; each run must answer (its normal
# status or a 500 with a JSON body), exit cleanly, and, in the ASan build, leak nothing.
import concurrent.futures
import json
import os
import tempfile

import pytest

from conftest import new_id

SHIM = os.path.join(os.environ.get("CLONE_JOBS_BUILD_DIR", ""), "tests", "tools", "failmalloc.so")
# Every Nth allocation only, when set (a quick look); the suite sweeps them all.
STRIDE = int(os.environ.get("CLONE_JOBS_OOM_STRIDE", "1"))


SUPPRESSIONS = os.path.join(os.environ.get("CLONE_JOBS_SRC_DIR", ""), "tests", "lsan-oom.supp")


def shim_env(n, report=None):
    env = {"LD_PRELOAD": SHIM, "FAILMALLOC_N": str(n),
           # The shim goes in front of ASan's allocator and forwards to it, so leaks are still found.
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0",
           "LSAN_OPTIONS": f"suppressions={SUPPRESSIONS}:print_suppressions=0"}
    if report:
        env["FAILMALLOC_REPORT"] = report
    return env


def counted(stack, method, path, query, body):
    with tempfile.NamedTemporaryFile("r", suffix=".count") as f:
        r, _ = stack.cgi(method, path, query=query, body=body, env=shim_env(0, f.name))
        return r, int(f.read().strip())


def requests(stack):
    """(name, method, path, query, body, normal status) for each kind of request, on items made here."""
    a, b, c = new_id("oom"), new_id("oom"), new_id("oom")
    for cid in (a, b, c):
        assert stack.request("PUT", stack.item_path(cid), {"status": "new", "n": [1, 2.5]}).status == 201
    item = {"cloneID": a, "status": "x", "deep": {"list": [1, "two", None, True, {"k": 1.5e10}]}}
    return [
        ("health", "GET", "/health", "", b"", 200),
        ("get", "GET", "/clones/" + a, "", b"", 200),
        ("get_tutorial", "GET", "/clone", "cloneID=" + a, b"", 200),
        ("put", "PUT", "/clones/" + a, "", json.dumps(item).encode(), 200),
        ("patch", "PATCH", "/clones/" + a, "", b'{"status":"y","deep":{"list":null},"more":{"a":[1]}}', 200),
        ("create", "POST", "/clones", "", b'{"status":"new","n":12345678901234567890123}', 201),
        ("update_tutorial", "PATCH", "/clone", "", json.dumps({"cloneID": b, "updateKey": "status",
                                                              "updateValue": {"s": [1, 2]}}).encode(), 200),
        ("list", "GET", "/clones", "limit=2", b"", 200),
        ("delete", "DELETE", "/clones/" + c, "", b"", 204),
    ]


@pytest.fixture(scope="module")
def kinds(worker_stack):
    if not os.path.exists(SHIM):
        pytest.fail(f"{SHIM} is missing: build with `make check-programs`")
    return requests(worker_stack)


@pytest.mark.parametrize("index", range(9))
def test_every_allocation_failure_answers_and_leaks_nothing(stack, kinds, index):
    name, method, path, query, body, normal = kinds[index]
    first, total = counted(stack, method, path, query, body)
    assert first.status == normal, (name, first.status, first.body)
    # The counting run deleted the item: later deletes find it gone.
    allowed = {normal, 404, 500} if name == "delete" else {normal, 500}
    assert total > 10, f"{name}: only {total} allocations counted: is the shim armed?"
    failures = []
    details = set()

    def one(n):
        r, err = stack.cgi(method, path, query=query, body=body, env=shim_env(n))
        if r.status not in allowed:
            failures.append((n, r.status, r.body[:200]))
        elif r.status not in (204,):
            try:
                json.loads(r.body)
            except ValueError:
                failures.append((n, r.status, "not JSON: " + repr(r.body[:200])))
        if r.status == 500:
            # A 500 must be the worker's own answer to the failure, logged as such at error level.
            lines = [json.loads(x) for x in err.splitlines() if '"requestId"' in x]
            line = lines[-1] if lines else {}
            if line.get("outcome") != "internal" or line.get("level") != "error" or not line.get("detail"):
                failures.append((n, 500, "not logged as the worker's internal error: " + err[-300:]))
            else:
                details.add(line["detail"][:60])
        return r.status

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(one, range(1, total + 1, STRIDE)))
    kinds_of_failure = {}
    for n, status, what in failures:
        kinds_of_failure.setdefault((status, str(what)[:120]), n)
    assert failures == [], f"{name}: {len(failures)} of {len(statuses)} runs went wrong: {kinds_of_failure}"
    assert 500 in statuses, f"{name}: no failed allocation ever led to a 500: the sweep did not reach the code"
    print(f"{name}: {total} allocations, {statuses.count(500)} answered 500; why: {sorted(details)}")
