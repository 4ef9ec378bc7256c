# test_soak.py — the soak's 60-second form (tests/tools/soak.py; the 30-minute run is `soak.py --minutes 30`):
# mixed load at a fixed rate through a gateway of its own while DynamoDB faults are injected on a schedule.
import json
import os
import sys

import pytest

from gateway_stack import ENDPOINT, SRC, Gateway

sys.path.insert(0, os.path.join(SRC, "tests", "tools"))
from soak import SOAK_CONFIG, Soak, count_bad_log_lines, run_soak  # noqa: E402

DURATION_S = 60
RATE = 30
FAULT_EVERY_S = 6  # every fault of the schedule, the ones that outlast the retries included, within the minute
UNDER_ASAN = "ASAN_OPTIONS" in os.environ


@pytest.fixture(scope="module")
def soak_gateway():
    if not ENDPOINT:
        pytest.fail("CLONE_JOBS_TEST_ENDPOINT is not set: run the suite through tests/run")
    gw = Gateway(extra_config=SOAK_CONFIG)
    try:
        gw.start()
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def report(soak_gateway):
    gw = soak_gateway
    lines = []
    r = run_soak(gw.base_url, gw.keys["alice"], ENDPOINT, gw.pool.pid, DURATION_S, RATE,
                 fault_every_s=FAULT_EVERY_S, ids=100, log=lines.append)
    with open(os.path.join(gw.logs, "soak-report.json"), "w") as fh:
        fh.write("\n".join(lines))
    return r


def test_no_unexpected_answer_under_faults(report):
    assert report["unexpected"] == 0, report["unexpected_examples"]
    assert report["faults_injected"] >= DURATION_S // FAULT_EVERY_S - 1, report
    # The load held its rate: every request was sent, none much later than planned.
    assert report["requests"] >= DURATION_S * RATE * 0.98, report
    assert report["sent_more_than_1s_late"] <= report["requests"] // 100, report  # a loaded machine may lag
    statuses = report["statuses"]
    assert set(statuses) <= {"2xx", "4xx", "5xx"}, statuses
    fivexx = sum(v for k, v in report["by_operation"].items() if k.endswith(" 503"))
    assert statuses.get("5xx", 0) == fivexx, report["by_operation"]  # only 503, and only during faults


def test_every_acknowledged_write_is_there_afterwards(report):
    assert report["verified_present"] + report["verified_absent"] + report["uncertain_after_503"] == 100
    assert report["verified_present"] > 20, report


def test_the_pool_survived_and_its_memory_is_flat(report, soak_gateway):
    assert report["pool_processes"] == 3  # the supervisor and both workers, the same processes as at the start
    rss = report["pool_rss_kib"]
    if not UNDER_ASAN:  # ASan's quarantine grows on purpose
        assert rss["end"] <= rss["middle"] * 1.25 + 4096, rss
    assert count_bad_log_lines(os.path.join(soak_gateway.logs, "access.log")) == 0


def test_the_verification_can_fail(soak_gateway, report):
    """A write lost behind the soak's back is found: the check that the real run passed is not vacuous."""
    gw = soak_gateway
    from soak import Client
    soak = Soak(Client(gw.base_url, gw.keys["alice"]), ENDPOINT, gw.pool.pid, ["soak-lost-1"], 1)
    soak.set_state("soak-lost-1", "present", 1, {"n": 1, "s": "v1"})  # acknowledged, but never written
    soak.verify()
    assert len(soak.unexpected) == 1 and "expected version 1" in soak.unexpected[0], soak.unexpected
    assert json.loads(json.dumps(report))  # the report is plain JSON for the README
