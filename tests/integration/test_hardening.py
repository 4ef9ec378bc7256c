# test_hardening.py — the release hardening the README promises, read off the built programs themselves (not
# the flags that were meant to give it): PIE, full RELRO, the stack protector, FORTIFY, a stack that is not
# executable. Builds with sanitizers or configured --disable-hardening leave it out on purpose: skipped, named.
import os
import re
import shlex
import subprocess

import pytest

BUILD = os.environ.get("CLONE_JOBS_BUILD_DIR", "")
PROGRAMS = ["clone-jobs-fcgi", "clone-jobs-admin"]


def configured_with():
    r = subprocess.run([os.path.join(BUILD, "config.status"), "--config"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return shlex.split(r.stdout)


def readelf(*args):
    r = subprocess.run(["readelf", "-W"] + list(args), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def hardened_build():
    args = configured_with()
    if "--enable-sanitizers" in args:
        pytest.skip("a sanitizer build: configure leaves the hardening flags out (FORTIFY and ASan do not mix)")
    if "--disable-hardening" in args:
        pytest.skip("configured --disable-hardening")
    return BUILD


@pytest.mark.parametrize("program", PROGRAMS)
def test_release_programs_are_hardened(hardened_build, program):
    path = os.path.join(hardened_build, program)
    header, segments, dynamic = readelf("-h", path), readelf("-l", path), readelf("-d", path)
    symbols = readelf("--dyn-syms", path)
    # PIE: a shared-object type executable flagged PIE, so it loads at a random address.
    assert re.search(r"^\s*Type:\s+DYN\b", header, re.M), header
    assert re.search(r"\(FLAGS_1\).*\bPIE\b", dynamic), dynamic
    # Full RELRO: the relocation segment is made read-only, and every symbol is bound at start (BIND_NOW).
    assert re.search(r"^\s*GNU_RELRO\b", segments, re.M), segments
    assert re.search(r"\(FLAGS\).*\bBIND_NOW\b", dynamic) or re.search(r"\(FLAGS_1\).*\bNOW\b", dynamic), dynamic
    # Stack protector: functions with buffers check their canary.
    assert re.search(r"\b__stack_chk_fail\b", symbols), "no stack protector"
    # FORTIFY: string and format functions go through glibc's checked variants.
    checked = set(re.findall(r"\b(__\w+_chk)\b", symbols)) - {"__stack_chk_fail"}
    assert checked, "no FORTIFY: no __*_chk function is called"
    # And a stack that is not executable.
    stack = re.search(r"^\s*GNU_STACK\s.*$", segments, re.M)
    assert stack and "RWE" not in stack.group(0), segments
