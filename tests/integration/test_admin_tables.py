# test_admin_tables.py — clone-jobs-admin create-table makes both tables, the items' and the quota usage one.
# Runs against the suite's dynalite through the signature-checking proxy (CLONE_JOBS_TEST_ENDPOINT).
import json
import os
import subprocess
import uuid

import pytest

ADMIN = os.path.join(os.environ.get("CLONE_JOBS_BUILD_DIR", ""), "clone-jobs-admin")
TIMEOUT_S = 60


def admin(*args, env_extra=None):
    endpoint = os.environ.get("CLONE_JOBS_TEST_ENDPOINT")
    if not endpoint:
        pytest.fail("CLONE_JOBS_TEST_ENDPOINT is not set: run the tests through tests/run")
    env = os.environ.copy()
    env.pop("CLONE_JOBS_USAGE_TABLE", None)
    env.pop("CLONE_JOBS_CONFIG", None)
    env.update(env_extra or {})
    return subprocess.run([ADMIN, "--endpoint", endpoint, "--region", "us-east-1"] + list(args),
                          capture_output=True, text=True, timeout=TIMEOUT_S, env=env)


def key_schema(table):
    r = admin("describe-table", "--table", table)
    assert r.returncode == 0, r.stderr
    t = json.loads(r.stdout)["Table"]
    return t["KeySchema"], t.get("BillingModeSummary", {}).get("BillingMode")


def test_create_table_makes_the_usage_table():
    table, usage = "adm-" + uuid.uuid4().hex[:10], "adm-usage-" + uuid.uuid4().hex[:10]
    r = admin("create-table", "--table", table, "--usage-table", usage)
    assert r.returncode == 0, r.stderr
    assert f"table {table} is ACTIVE" in r.stdout and f"table {usage} is ACTIVE" in r.stdout
    assert key_schema(usage) == ([{"AttributeName": "usageID", "KeyType": "HASH"}], "PAY_PER_REQUEST")
    assert key_schema(table)[0] == [{"AttributeName": "cloneID", "KeyType": "HASH"}]
    # Idempotent: a second run finds both and succeeds.
    r = admin("create-table", "--table", table, "--usage-table", usage)
    assert r.returncode == 0, r.stderr
    assert "created" not in r.stdout


def test_usage_table_name_from_the_environment():
    table, usage = "adm-" + uuid.uuid4().hex[:10], "adm-usage-env-" + uuid.uuid4().hex[:8]
    r = admin("create-table", "--table", table, env_extra={"CLONE_JOBS_USAGE_TABLE": usage})
    assert r.returncode == 0, r.stderr
    assert key_schema(usage)[0] == [{"AttributeName": "usageID", "KeyType": "HASH"}]
