# test_bench_smoke.py — bench/run in a tiny, bounded form (a few rows of 1 s, the relay at 10 ms included): it
# starts and cleans up everything itself and prints every row it ran. No timing thresholds: figures are the lead's.
import os
import re
import subprocess

SRC = os.environ["CLONE_JOBS_SRC_DIR"]
BUILD = os.environ["CLONE_JOBS_BUILD_DIR"]
WORK = os.environ["CLONE_JOBS_TEST_WORK_DIR"]
NUMBER = r"[0-9][0-9,]*(?:\.[0-9]+)?"


def run_bench(tmp):
    env = os.environ.copy()
    env.update({
        "CLONE_JOBS_BUILD": BUILD, "CLONE_JOBS_WORKERS": "2", "TMPDIR": tmp,
        "DURATION": "1", "WARMUP": "0", "CONNECTIONS": "4", "RELAY": "10:4", "LOW_CONNECTIONS": "2",
        "LONG_REQUESTS": "off", "PY_PROCS": "1",
        "ROWS": "ceiling,health,ddb-get,python-get,clones-get,clone-post",
    })
    return subprocess.run([os.path.join(SRC, "bench", "run")], env=env, capture_output=True, text=True, timeout=600)


def table_rows(out):
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 11 and cells[0] != "what":
            rows[(cells[0], cells[1], cells[2])] = cells
    return rows


def test_bench_prints_every_row_it_ran_and_leaves_nothing_behind():
    tmp = os.path.join(WORK, "bench-smoke")
    os.makedirs(tmp, exist_ok=True)
    r = run_bench(tmp)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    out = r.stdout
    assert re.search(r"^- machine: \d+ cores", out, re.M), out
    assert "CLONE_JOBS_WORKERS=2" in out and "CLONE_JOBS_THREADS=" in out, out
    rows = table_rows(out)
    expected = [
        ("nginx `return 200`, same TLS (ceiling)", "—", "4"),
        ("this stack `GET /health`", "—", "4"),
        ("dynalite GetItem, signed, straight to it", "local", "4"),
        ("Python Lambda shape (boto3) `GET /clone`", "local", "4"),
        ("this stack `GET /clones/{id}`", "local", "4"),
        ("this stack `POST /clone`", "local", "4"),
        ("dynalite GetItem, signed, straight to it", "relay 10 ms", "4"),
        ("Python Lambda shape (boto3) `GET /clone`", "relay 10 ms", "4"),
        ("this stack `GET /clones/{id}` (memory pair, low)", "relay 10 ms", "2"),
        ("this stack `GET /clones/{id}`", "relay 10 ms", "4"),
        ("this stack `POST /clone`", "relay 10 ms", "4"),
    ]
    for key in expected:
        assert key in rows, (key, out)
        cells = rows[key]
        assert re.fullmatch(NUMBER, cells[3]), (key, cells)      # req/s, whatever it is here
        assert re.fullmatch(NUMBER, cells[4]) and re.fullmatch(NUMBER, cells[5]), (key, cells)
        if key[1].startswith("relay"):
            assert re.fullmatch(r"\d+", cells[10]), (key, cells)  # the relay counted the requests in flight
    assert len(rows) == len(expected), out
    assert "failed:" not in out, out
    # Every goal has its line, measured or said not to be.
    for goal in ("store 50 ms away", "store 10 ms away", "store local: `GET /clone`", "`GET /health` vs the nginx",
                 "worker CPU per `GET /clone`", "RSS per extra request in flight", "pool RSS over a long run"):
        assert goal in out, (goal, out)
    # It cleaned up: its temporary folder (state, logs, sockets) is gone and none of its processes is left.
    assert os.listdir(tmp) == [], os.listdir(tmp)
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if tmp.encode() in fh.read():
                    left.append(pid)
        except OSError:
            pass
    assert not left, left
