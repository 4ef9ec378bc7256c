# test_check_config.py — `clone-jobs-fcgi --check-config` catches mistakes before traffic does: a placeholder or short
# cursor_secret, misspelt CLONE_JOBS_* variables, no region, no credentials, gateway = worker's files; --version.
import os
import subprocess
import uuid

import pytest

BUILD = os.environ["CLONE_JOBS_BUILD_DIR"]
WORK = os.environ["CLONE_JOBS_TEST_WORK_DIR"]
SRC = os.environ["CLONE_JOBS_SRC_DIR"]
FCGI = os.path.join(BUILD, "clone-jobs-fcgi")
ADMIN = os.path.join(BUILD, "clone-jobs-admin")
GOOD = "region = us-east-1\ncursor_secret = 0123456789abcdef0123456789abcdef\n"


def config(text):
    path = os.path.join(WORK, f"check-{uuid.uuid4().hex[:8]}.conf")
    with open(path, "w") as fh:
        fh.write(text)
    return path


def check(text, env=None, clear_aws=False):
    e = {k: v for k, v in os.environ.items() if not (clear_aws and k.startswith("AWS_"))}
    if clear_aws:
        # No credentials or region anywhere: no files, no instance metadata.
        e.update({"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
                  "AWS_EC2_METADATA_DISABLED": "true"})
    e.update(env or {})
    return subprocess.run([FCGI, "--config", config(text), "--check-config"], capture_output=True, text=True,
                          timeout=60, env=e)


def test_a_good_configuration_passes():
    r = check(GOOD)
    assert r.returncode == 0 and "configuration ok" in r.stdout and "0 errors" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("secret", ["CHANGE-ME-openssl-rand-hex-32", "please-change-me-0123", "<your secret here>",
                                    "short"])
def test_a_placeholder_or_short_cursor_secret_is_refused(secret):
    r = check(f"region = us-east-1\ncursor_secret = {secret}\n")
    assert r.returncode == 2 and "cursor_secret" in r.stderr and ":2:" in r.stderr, r.stdout + r.stderr


def test_the_shipped_example_is_refused_until_its_secret_is_set():
    with open(os.path.join(SRC, "deploy", "clone-jobs.conf.example")) as fh:
        text = fh.read()
    r = check(text)
    assert r.returncode == 2 and "placeholder" in r.stderr, r.stdout + r.stderr
    r = check(text.replace("CHANGE-ME-openssl-rand-hex-32", "ab" * 16))
    assert r.returncode == 0, r.stdout + r.stderr


def test_misspelt_variables_are_named_with_the_key_meant():
    r = check(GOOD, env={"CLONE_JOBS_TABEL": "x", "CLONE_JOBS_LOG_LEVL": "debug", "CLONE_JOBS_WHATEVER": "1"})
    assert r.returncode == 0, r.stdout + r.stderr  # warnings, not errors: the service would still run
    assert "CLONE_JOBS_TABEL is no configuration key and is ignored (did you mean CLONE_JOBS_TABLE?)" in r.stdout
    assert "(did you mean CLONE_JOBS_LOG_LEVEL?)" in r.stdout
    assert "CLONE_JOBS_WHATEVER is no configuration key and is ignored\n" in r.stdout
    assert "3 warnings" in r.stdout


def test_missing_region_and_credentials_are_reported():
    r = check("cursor_secret = 0123456789abcdef0123\n", clear_aws=True)
    assert r.returncode == 2 and "no AWS region" in r.stdout, r.stdout + r.stderr
    r = check(GOOD, clear_aws=True)
    assert r.returncode == 2 and "AWS credentials: no AWS credentials found" in r.stdout, r.stdout + r.stderr


def test_gateway_worker_needs_a_readable_key_store_and_a_state_dir():
    keys = os.path.join(WORK, "check-keys-" + uuid.uuid4().hex[:6])
    os.makedirs(keys)
    text = GOOD + f"gateway = worker\nkeys_dir = {keys}\nstate_dir = /nonexistent/state\n"
    r = check(text)
    assert r.returncode == 2 and "state_dir /nonexistent/state" in r.stdout and "no active key" in r.stdout, r.stdout
    with open(os.path.join(keys, "keys.tsv"), "w") as fh:
        fh.write("broken row\n")
    r = check(text.replace("/nonexistent/state", WORK))
    assert r.returncode == 2 and "keys.tsv:1:" in r.stdout, r.stdout


def test_versions():
    for program, name in ((FCGI, "clone-jobs-fcgi"), (ADMIN, "clone-jobs-admin")):
        r = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.startswith(f"{name} (clone-jobs) "), r.stdout + r.stderr
