# test_newman.py — runs the shipped Postman collection (postman/) with the pinned newman against the real
# gateway (TLS nginx, keys, worker pool) and checks newman's JSON report: every request ran, every assertion passed.
import json
import os
import subprocess
import uuid

import pytest

from gateway_stack import SRC, WORK, gateway, wait_until  # noqa: F401  (the fixture)

NEWMAN = os.path.join(os.environ.get("CLONE_JOBS_TOOLS_DIR") or os.path.join(SRC, "tools"), "newman", "node_modules",
                      ".bin", "newman")
COLLECTION = os.path.join(SRC, "postman", "clone-jobs.postman_collection.json")
ENVIRONMENT = os.path.join(SRC, "postman", "clone-jobs.postman_environment.json")
NEWMAN_TIMEOUT_S = 180  # a bound for a busy 2-core machine (the run takes a few seconds)

# What the collection holds today. A collection that silently lost requests or tests fails here;
# raise these when the collection grows.
EXPECTED_REQUESTS = 37
MIN_ASSERTIONS = 116


def _tests_in(node):
    """The pm.test( calls in one collection, folder or request node's own test scripts."""
    return sum(line.count("pm.test(") for event in node.get("event", []) if event.get("listen") == "test"
               for line in event["script"]["exec"])


def collection_requests():
    """(folder/name, name, pm.test calls that run for it, its own and its folders') of every request, in run order."""
    with open(COLLECTION) as fh:
        collection = json.load(fh)
    out = []

    def walk(node, prefix, inherited):
        for item in node["item"]:
            if "item" in item:
                walk(item, prefix + item["name"] + "/", inherited + _tests_in(item))
            else:
                out.append((prefix + item["name"], item["name"], inherited + _tests_in(item)))
    walk(collection, "", _tests_in(collection))
    return out


REQUESTS = collection_requests()


@pytest.fixture(scope="module")
def newman_run(gateway):
    """Run the collection once for this module; returns (JSON report, cli output, exit code)."""
    assert os.access(NEWMAN, os.X_OK), f"{NEWMAN} missing: run scripts/install-deps"
    key = gateway.add_key("newman-" + uuid.uuid4().hex[:6], "standard")
    assert wait_until(lambda: gateway.request("GET", "/health", key=key).status == 200, 20), \
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
    names = [name for _, name, _ in REQUESTS]
    assert len(set(names)) == len(names), "request names must be unique: the per-request tests find them by name"
    ran = [e["item"]["name"] for e in run["executions"]]
    assert ran == names
    assert all("response" in e and "code" in e["response"] for e in run["executions"])
    assert stats["assertions"]["total"] >= MIN_ASSERTIONS, stats["assertions"]
    assert stats["assertions"]["total"] == sum(n for _, _, n in REQUESTS), \
        "some pm.test in the collection did not run (a script stopped early?)"


@pytest.mark.parametrize("path,name,tests", REQUESTS, ids=[p for p, _, _ in REQUESTS])
def test_postman_request(newman_run, path, name, tests):
    report, output, _ = newman_run
    executions = [e for e in report["run"]["executions"] if e["item"]["name"] == name]
    assert len(executions) == 1, f"{path}: ran {len(executions)} times"
    e = executions[0]
    assert "requestError" not in e or not e["requestError"], e.get("requestError")
    assertions = e.get("assertions", [])
    assert len(assertions) == tests, f"{path}: {len(assertions)} of its {tests} pm.test ran"
    failed = [f"{a['assertion']}: {a['error']['message']}" for a in assertions if a.get("error")]
    assert not failed, f"{path} (HTTP {e['response']['code']}):\n  " + "\n  ".join(failed)
    skipped = [a["assertion"] for a in assertions if a.get("skipped")]
    assert not skipped, f"{path}: skipped {skipped}"
