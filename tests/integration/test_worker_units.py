# test_worker_units.py — runs the worker's C unit programs (configuration, router, HTTP parsing, cursors),
# which tests/run does not list itself; each must pass every TAP point of its plan.
import os
import re
import subprocess

import pytest

PROGRAMS = ["test_conf", "test_router", "test_http", "test_cursor"]


@pytest.mark.parametrize("name", PROGRAMS)
def test_unit_program(name):
    build = os.environ.get("CLONE_JOBS_BUILD_DIR")
    if not build:
        pytest.fail("CLONE_JOBS_BUILD_DIR is not set: run the tests through tests/run")
    path = os.path.join(build, "tests", "unit", name)
    r = subprocess.run([path], capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    plan = re.search(r"^1\.\.(\d+)$", r.stdout, re.M)
    passed = len(re.findall(r"^ok \d+", r.stdout, re.M))
    assert r.returncode == 0 and plan and int(plan.group(1)) == passed and passed > 0, out
