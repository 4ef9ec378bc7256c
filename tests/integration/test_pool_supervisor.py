# test_pool_supervisor.py — the supervisor of clone-jobs-fcgi --workers, in a pool of its own under spawn-fcgi:
# a worker that dies within 2 s of its start is replaced after 1 s (a broken configuration cannot spin), an older
# one at once; on SIGTERM a worker stuck in a request is SIGKILLed 10 s later and the supervisor exits.
import os
import signal
import subprocess
import time

import pytest

from conftest import new_id

YOUNG_S = 2.0          # a worker that dies sooner than this after its start died young
RESPAWN_DELAY_S = 1.0  # ...and is replaced only this long after
STOP_GRACE_S = 10.0    # SIGTERM to the workers, SIGKILL this long after
TICK_S = 0.01


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return {int(p) for p in fh.read().split()}
    except OSError:
        return set()


def age_s(pid):
    """Seconds since the process started (from /proc), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def wait_for(predicate, timeout_s, what):
    end = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(TICK_S)


class Pool:
    """spawn-fcgi -n running the supervisor (its pid is the supervisor's) with N workers on a socket."""

    def __init__(self, stack, workers, config=None):
        name = new_id("pool")
        self.socket = os.path.join(stack.dir, name + ".sock")
        self.log = os.path.join(stack.dir, name + ".log")
        self.proc = subprocess.Popen(
            ["spawn-fcgi", "-n", "-s", self.socket, "-M", "0600", "--", stack.fcgi, "--config",
             config or stack.config, "--workers", str(workers), "--log-file", self.log],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: len(self.workers()) == workers, 20, f"{workers} workers")

    def workers(self):
        return children(self.proc.pid)

    def pool_log(self):
        with open(self.log, errors="replace") as fh:
            return fh.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_GRACE_S + 10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def pool_of_one(stack):
    pool = Pool(stack, 1)
    yield pool
    pool.stop()


def kill_and_time_the_replacement(pool, pid):
    """SIGKILL the worker; seconds until its replacement is running."""
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    new = wait_for(lambda: pool.workers() - {pid}, 10, "a replacement worker")
    assert len(new) == 1, new
    return time.monotonic() - killed, new.pop()


def test_a_worker_that_dies_young_is_replaced_after_1_s_an_older_one_at_once(pool_of_one):
    pool = pool_of_one
    (pid,) = pool.workers()
    # Dying young: kill a worker well within 2 s of its start (the pool's first may be older on a busy
    # machine, so kill workers until one is caught young; each replacement is brand new).
    for _ in range(5):
        age = age_s(pid)
        if age is not None and age < YOUNG_S - 0.5:
            break
        _, pid = kill_and_time_the_replacement(pool, pid)
    else:
        pytest.fail("never caught a worker younger than 1.5 s")
    delay, pid = kill_and_time_the_replacement(pool, pid)
    # The supervisor schedules the replacement 1 s after it reaped the dead worker: never sooner.
    assert delay >= RESPAWN_DELAY_S, delay
    # Dying old: wait until the worker has lived past 2 s, then kill it: replaced at once (the supervisor
    # wakes on SIGCHLD), well before the 1 s back-off.
    wait_for(lambda: (age_s(pid) or 0) > YOUNG_S + 0.5, 10, "the worker to be 2.5 s old")
    delay, pid = kill_and_time_the_replacement(pool, pid)
    assert delay < RESPAWN_DELAY_S * 0.9, delay
    exits = pool.pool_log().count('"event":"worker_exited"')
    assert exits >= 2, pool.pool_log()


def test_sigterm_kills_a_stuck_worker_10_s_later(stack):
    # DynamoDB answers this pool after 20 s, and its budgets allow the wait: the request outlives the grace.
    config = os.path.join(stack.dir, new_id("slow") + ".conf")
    with open(stack.config) as src, open(config, "w") as dst:
        dst.write(src.read() + "ddb_attempt_timeout_ms = 30000\nddb_max_total_ms = 40000\n")
    pool = Pool(stack, 1, config)
    try:
        (pid,) = pool.workers()
        stack.fault("delay", 1, delay_ms=20000)
        env = {"PATH": os.environ["PATH"], "REQUEST_METHOD": "GET", "REQUEST_URI": "/clones/" + new_id(),
               "QUERY_STRING": "", "CONTENT_LENGTH": "0"}
        client = subprocess.Popen(["cgi-fcgi", "-bind", "-connect", pool.socket], env=env,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Once the proxy has taken the fault, the worker is waiting on the delayed answer.
        wait_for(lambda: stack.proxy("GET", "/__proxy/stats")["faults_left"] == 0, 20, "the request to reach DynamoDB")
        stopped = time.monotonic()
        pool.proc.send_signal(signal.SIGTERM)
        pool.proc.wait(timeout=STOP_GRACE_S + 8)
        took = time.monotonic() - stopped
        out, _ = client.communicate(timeout=10)
        # Not before the grace period, and well before the 20 s answer would have let the worker finish.
        assert STOP_GRACE_S <= took < 18, took
        assert age_s(pid) is None, "the stuck worker is still there"
        assert b"Status:" not in out, "the stuck request was answered: the worker was not killed"
        assert '"event":"pool_stopping"' in pool.pool_log()
    finally:
        stack.clear_faults()
        pool.stop()
