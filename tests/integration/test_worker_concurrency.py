# test_worker_concurrency.py — many clients writing one item at once: with If-Match exactly one PATCH wins per
# version and the rest get 412; without it the optimistic lock retries, and no update is ever lost.
import threading

import pytest

from conftest import WorkerStack, new_id, stack_lifetime

THREADS = 20
ROUNDS = 5
# Worker processes of this module's own pool: wide enough that many writes of one item really race (the
# session's pool has 2, so at most two-way races). NOTE: the worker is getting a `threads` configuration key
# (CLONE_JOBS_THREADS, requests in flight per process); once it knows it, give this pool threads too (for
# example 4 processes x 4 threads). Not before: today an unknown key stops the worker at start.
POOL = 8


@pytest.fixture(scope="module")
def wide_stack():
    yield from stack_lifetime(WorkerStack(workers=POOL))


@pytest.fixture
def stack(wide_stack):
    """This module's wide pool in place of the session's, with no DynamoDB fault pending."""
    wide_stack.clear_faults()
    yield wide_stack
    wide_stack.clear_faults()


def test_if_match_one_winner_per_version(stack):
    cid = new_id()
    assert stack.request("POST", "/clones", {"cloneID": cid}).status == 201
    expected = {}
    for rnd in range(ROUNDS):
        etag = stack.request("GET", "/clones/" + cid).header("etag")
        assert etag == f'"{1 + rnd}"'
        barrier = threading.Barrier(THREADS)
        results = [None] * THREADS

        def patch(i):
            barrier.wait()
            r = stack.request("PATCH", "/clones/" + cid, {f"f{i}": rnd, "round": rnd}, headers={"If-Match": etag})
            results[i] = (r.status, r.header("etag"))

        threads = [threading.Thread(target=patch, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(s for s, _ in results)
        assert statuses == [200] + [412] * (THREADS - 1), statuses
        winner = next(i for i, (s, _) in enumerate(results) if s == 200)
        assert results[winner][1] == f'"{2 + rnd}"'
        expected[f"f{winner}"] = rnd
    item = stack.request("GET", "/clones/" + cid).json()
    assert item["version"] == 1 + ROUNDS, "the version counts exactly the successful writes"
    assert item["round"] == ROUNDS - 1
    assert {k: v for k, v in item.items() if k.startswith("f")} == expected, "no winner's update was lost"


def test_without_if_match_no_update_is_lost(stack):
    cid = new_id()
    assert stack.request("POST", "/clones", {"cloneID": cid}).status == 201
    mark = stack.proxy_mark()
    barrier = threading.Barrier(THREADS)
    results = [None] * THREADS

    def patch(i):
        barrier.wait()
        results[i] = stack.request("PATCH", "/clones/" + cid, {f"g{i}": i}).status

    threads = [threading.Thread(target=patch, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) <= {200, 409}, results
    won = [i for i, s in enumerate(results) if s == 200]
    assert len(won) >= THREADS - 2, results
    item = stack.request("GET", "/clones/" + cid).json()
    assert item["version"] == 1 + len(won)
    assert {k for k in item if k.startswith("g")} == {f"g{i}" for i in won}
    # The races were real: writes lost and tried again (about 40 lost rounds for 20 writes on 8 processes).
    writes = [e for e in stack.proxy_log(mark, table=stack.table) if e["operation"] == "PutItem"]
    assert len(writes) > THREADS, f"{len(writes)} writes for {THREADS} requests: nothing raced"


def test_part1_updates_concurrently_are_all_counted(stack):
    cid = new_id()
    stack.request("POST", "/clone", {"cloneID": cid})
    barrier = threading.Barrier(THREADS)
    results = [None] * THREADS

    def update(i):
        barrier.wait()
        results[i] = stack.request("PATCH", "/clone", {"cloneID": cid, "updateKey": f"k{i}", "updateValue": i}).status

    threads = [threading.Thread(target=update, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * THREADS
    item = stack.request("GET", "/clones/" + cid).json()
    assert item["version"] == 1 + THREADS and all(item[f"k{i}"] == i for i in range(THREADS))
