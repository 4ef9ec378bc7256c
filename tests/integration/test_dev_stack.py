# test_dev_stack.py — the README's first command as a user meets it: scripts/stack starts the whole local
# stack (dynalite, pool, TLS gateway, dev key) and the curl line it prints works; start again is harmless.
import json
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
    script = os.path.join(SRC, "scripts", "stack")
    # The ports are found free, then bound by dynalite and nginx: another program may take one in between,
    # so a start that fails is stopped and tried again on other ports (a fresh folder each time).
    for attempt in range(1, 4):
        env = os.environ.copy()
        env.update({
            "CLONE_JOBS_VAR": os.path.join(WORK, f"dev-stack-{attempt}"),
            "CLONE_JOBS_PORT": str(free_port()),
            "CLONE_JOBS_DDB_PORT": str(free_port()),
            "CLONE_JOBS_METRICS_PORT": str(free_port()),
            "CLONE_JOBS_BUILD": BUILD,
            "CLONE_JOBS_WORKERS": "2",
        })
        started = subprocess.run([script, "start"], env=env, capture_output=True, text=True, timeout=120)
        if started.returncode == 0 or attempt == 3:
            break
        subprocess.run([script, "stop"], env=env, capture_output=True, text=True, timeout=60)
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
    answers = []
    for line in lines:
        assert f"x-api-key: {key}" in line and line.split()[-1] != ""
        argv = shlex.split(line) + ["-w", "\n%{http_code}", "--max-time", "10"]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, (line, r.stdout, r.stderr)
        body, status = r.stdout.rsplit("\n", 1)
        answers.append((status, json.loads(body)))
    # The README's first two steps: the health check, then a create with a generated id.
    assert answers[0] == ("200", {"status": "ok"}), answers
    status, item = answers[1]
    assert status == "201" and item["status"] == "new" and item["version"] == 1, answers
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", item["cloneID"])


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


def test_status_reads_the_running_stacks_own_ports(stack):
    """Without the port variables, status asks the ports this stack was started on, not 8443/8000."""
    env, _ = stack
    bare = {k: v for k, v in env.items() if k not in ("CLONE_JOBS_PORT", "CLONE_JOBS_DDB_PORT")}
    status = subprocess.run([os.path.join(SRC, "scripts", "stack"), "status"], env=bare, capture_output=True,
                            text=True, timeout=60)
    assert status.returncode == 0 and "GET /health: ok" in status.stdout, status.stdout
    assert f"https://127.0.0.1:{env['CLONE_JOBS_PORT']}" in status.stdout, status.stdout
    assert f"127.0.0.1:{env['CLONE_JOBS_DDB_PORT']}" in status.stdout, status.stdout
