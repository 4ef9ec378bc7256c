# test_dev_stack.py — the README's first command as a user meets it: scripts/stack starts the whole local
# stack (dynalite, pool, TLS gateway, dev key) and the curl line it prints works; start again is harmless.
import os
import re
import shlex
import socket
import subprocess

import pytest

SRC = os.environ["CLONE_JOBS_SRC_DIR"]
BUILD = os.environ["CLONE_JOBS_BUILD_DIR"]
WORK = os.environ["CLONE_JOBS_TEST_WORK_DIR"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def stack():
    env = os.environ.copy()
    env.update({
        "CLONE_JOBS_VAR": os.path.join(WORK, "dev-stack"),
        "CLONE_JOBS_PORT": str(free_port()),
        "CLONE_JOBS_DDB_PORT": str(free_port()),
        "CLONE_JOBS_BUILD": BUILD,
        "CLONE_JOBS_WORKERS": "2",
    })
    script = os.path.join(SRC, "scripts", "stack")
    started = subprocess.run([script, "start"], env=env, capture_output=True, text=True, timeout=120)
    try:
        yield env, started
    finally:
        subprocess.run([script, "stop"], env=env, capture_output=True, text=True, timeout=60)


def curl_lines(output):
    return [line.strip() for line in output.splitlines() if line.strip().startswith("curl ")]


def test_start_prints_curl_lines_that_work(stack):
    env, started = stack
    assert started.returncode == 0, started.stdout + started.stderr
    lines = curl_lines(started.stdout)
    assert len(lines) == 2, started.stdout
    key = open(os.path.join(env["CLONE_JOBS_VAR"], "dev-api-key")).read().strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{40}", key)
    for line in lines:
        assert f"x-api-key: {key}" in line and line.split()[-1] != ""
        argv = shlex.split(line) + ["-w", "\n%{http_code}", "--max-time", "10"]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        body, status = r.stdout.rsplit("\n", 1)
        assert r.returncode == 0 and status in ("200", "201"), (line, r.stdout, r.stderr)
    assert '"status":"ok"' in subprocess.run(shlex.split(lines[0]), capture_output=True, text=True,
                                             timeout=20).stdout


def test_the_stack_is_the_gateway_not_a_passthrough(stack):
    env, _ = stack
    url = f"https://127.0.0.1:{env['CLONE_JOBS_PORT']}/health"
    r = subprocess.run(["curl", "-sk", "--max-time", "10", url], capture_output=True, text=True, timeout=20)
    assert r.stdout == '{"message":"Forbidden"}'
    r = subprocess.run(["curl", "-s", "--max-time", "10", url.replace("https", "http")], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode != 0 or "Forbidden" not in r.stdout


def test_start_again_and_status_are_harmless(stack):
    env, started = stack
    script = os.path.join(SRC, "scripts", "stack")
    again = subprocess.run([script, "start"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    # The same dev key: a second start must not hand out (or revoke) keys.
    assert curl_lines(again.stdout) == curl_lines(started.stdout)
    status = subprocess.run([script, "status"], env=env, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and "GET /health: ok" in status.stdout, status.stdout
