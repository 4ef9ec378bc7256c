# test_fuzz.py — the bounded fuzz run of the suite: every libFuzzer target (tests/fuzz) replays its corpus in the
# repository, crash regressions included, then fuzzes for a few seconds. A crash, leak or hang fails the test.
import os
import re
import subprocess

import pytest

SRC = os.environ.get("CLONE_JOBS_SRC_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
WORK = os.environ.get("CLONE_JOBS_TEST_WORK_DIR", "/tmp")
SECONDS_PER_TARGET = 15
TARGETS = sorted(f[len("fuzz_"):-2] for f in os.listdir(os.path.join(SRC, "tests", "fuzz"))
                 if f.startswith("fuzz_") and f.endswith(".c"))
# The targets carry their own ASan and UBSan, whatever the flavour under test: run them once, in the dev flavour.
pytestmark = pytest.mark.skipif("ASAN_OPTIONS" in os.environ, reason="fuzzed once, in the dev flavour's run")


@pytest.fixture(scope="module")
def fuzz_build():
    out = os.path.join(WORK, "fuzz-build")
    r = subprocess.run([os.path.join(SRC, "tests", "fuzz", "build"), out], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return out, r.stdout


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target(fuzz_build, target):
    out, built = fuzz_build
    if not os.path.exists(os.path.join(out, "fuzz_" + target)):
        # Only a target whose interface is not in the tree yet may be missing, and the build says so.
        assert f"fuzz_{target} skipped:" in built, built
        pytest.skip(f"fuzz_{target}: " + built.split(f"fuzz_{target} skipped: ", 1)[1].splitlines()[0])
    work = os.path.join(WORK, "fuzz-" + target)
    r = subprocess.run([os.path.join(SRC, "tests", "fuzz", "run"), "--seconds", str(SECONDS_PER_TARGET),
                        "--work", work, target], capture_output=True, text=True, timeout=SECONDS_PER_TARGET + 300,
                       env=dict(os.environ, FUZZ_OUT=out))
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"fuzz %s: (\d+) executions, corpus (\d+) inputs, no crash" % re.escape(target), r.stdout)
    assert m and int(m.group(1)) > 1000, r.stdout
