# test_newman.py — runs the shipped Postman collection (postman/) with the pinned newman against the real
# gateway (TLS nginx, keys, worker pool) and checks newman's JSON report: every request ran, every assertion passed.
import json
import os
import subprocess
import uuid

import pytest

from gateway_stack import SRC, WORK, gateway, wait_until  # noqa: F401  (the fixture)

NEWMAN = os.path.join(SRC, "tools", "newman", "node_modules", ".bin", "newman")
COLLECTION = os.path.join(SRC, "postman", "clone-jobs.postman_collection.json")
ENVIRONMENT = os.path.join(SRC, "postman", "clone-jobs.postman_environment.json")
NEWMAN_TIMEOUT_S = 60

# What the collection holds today. A collection that silently lost requests or tests fails here;
# raise these when the collection grows.
EXPECTED_REQUESTS = 37
MIN_ASSERTIONS = 107


def collection_requests():
    """(folder/name) of every request in the collection, in run order."""
    with open(COLLECTION) as fh:
        collection = json.load(fh)
    out = []

    def walk(items, prefix):
        for item in items:
            if "item" in item:
                walk(item["item"], prefix + item["name"] + "/")
            else:
                out.append((prefix + item["name"], item["name"]))
    walk(collection["item"], "")
    return out


def count_pm_tests():
    """The pm.test( calls written in the collection's test scripts."""
    with open(COLLECTION) as fh:
        collection = json.load(fh)
    n = 0

    def walk(items):
        nonlocal n
        for item in items:
            if "item" in item:
                walk(item["item"])
            for event in item.get("event", []):
                if event.get("listen") == "test":
                    n += sum(line.count("pm.test(") for line in event["script"]["exec"])
    walk(collection["item"])
    return n


REQUESTS = collection_requests()


@pytest.fixture(scope="module")
def newman_run(gateway):
    """Run the collection once for this module; returns (report, cli output)."""
    assert os.access(NEWMAN, os.X_OK), f"{NEWMAN} missing: run scripts/install-deps"
    key = gateway.add_key("newman-" + uuid.uuid4().hex[:6], "standard")
    assert wait_until(lambda: gateway.request("GET", "/health", key=key).status == 200, 5), \
        "the fresh key does not work after the reload"
    report_file = os.path.join(WORK, f"newman-{uuid.uuid4().hex[:8]}.json")
    argv = [NEWMAN, "run", COLLECTION, "-e", ENVIRONMENT,
            "--env-var", f"baseUrl={gateway.base_url}", "--env-var", f"apiKey={key}",
            "--insecure", "--timeout-request", "10000", "--timeout", str((NEWMAN_TIMEOUT_S - 5) * 1000),
            "--reporters", "cli,json", "--reporter-json-export", report_file, "--color", "off"]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=NEWMAN_TIMEOUT_S, cwd=SRC)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"newman did not finish within {NEWMAN_TIMEOUT_S} s:\n{e.stdout}")
    output = r.stdout + r.stderr
    assert os.path.exists(report_file), f"newman wrote no report (exit {r.returncode}):\n{output}"
    with open(report_file) as fh:
        report = json.load(fh)
    return report, output, r.returncode


def failure_lines(report):
    lines = []
    for f in report["run"].get("failures", []):
        err = f.get("error", {})
        where = f.get("source", {}).get("name") or f.get("parent", {}).get("name") or "?"
        lines.append(f"  [{where}] {err.get('test') or err.get('name', '')}: {err.get('message', '')}")
    return lines


def test_the_collection_runs_clean(newman_run):
    report, output, code = newman_run
    run = report["run"]
    stats = run["stats"]
    failures = failure_lines(report)
    assert not failures, "failed in newman:\n" + "\n".join(failures) + "\n\n" + output[-4000:]
    assert run.get("error") in (None, {}), run.get("error")
    for part in ("requests", "assertions", "testScripts", "prerequestScripts", "items"):
        assert stats[part]["failed"] == 0, (part, stats[part], output[-4000:])
    assert code == 0, output[-4000:]
    # Every request ran exactly once, and no test silently disappeared.
    assert stats["requests"]["total"] == len(REQUESTS) == EXPECTED_REQUESTS, \
        (stats["requests"], len(REQUESTS), EXPECTED_REQUESTS)
    ran = [e["item"]["name"] for e in run["executions"]]
    assert ran == [name for _, name in REQUESTS]
    assert all("response" in e and "code" in e["response"] for e in run["executions"])
    assert stats["assertions"]["total"] >= MIN_ASSERTIONS, stats["assertions"]
    assert stats["assertions"]["total"] == count_pm_tests(), \
        "some pm.test in the collection did not run (a script stopped early?)"


@pytest.mark.parametrize("path,name", REQUESTS, ids=[p for p, _ in REQUESTS])
def test_postman_request(newman_run, path, name):
    report, output, _ = newman_run
    executions = [e for e in report["run"]["executions"] if e["item"]["name"] == name]
    assert len(executions) == 1, f"{path}: ran {len(executions)} times"
    e = executions[0]
    assert "requestError" not in e or not e["requestError"], e.get("requestError")
    assertions = e.get("assertions", [])
    assert assertions, f"{path}: no assertion ran"
    failed = [f"{a['assertion']}: {a['error']['message']}" for a in assertions if a.get("error")]
    assert not failed, f"{path} (HTTP {e['response']['code']}):\n  " + "\n  ".join(failed)
    skipped = [a["assertion"] for a in assertions if a.get("skipped")]
    assert not skipped, f"{path}: skipped {skipped}"
