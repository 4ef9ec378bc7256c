# bench_apache.py — the three Apache modes measured with the same load tools, 4 connections, 5 s each: wrk (HTTP/1.1,
# kept connections) and ab -c 4 (a new TLS connection per request, as the issue measured: ab speaks HTTP/1.0, and
# Apache's mod_cgid and mod_proxy_fcgi drop a script's Content-Length, so HTTP/1.0 connections are not kept
# there), on GET /health (the key check and the rate table, no DynamoDB) and GET /clones/{id} (one GetItem
# through the suite's DynamoDB proxy). Not part of the suite (pytest collects only test_*.py); run it on purpose:
#   /usr/bin/python3 tests/run --build-dir=build/dev --src-dir=. --test bench_apache.py
# and read the table it prints (the figures in the README, "Apache and classic hosting", came from it).
import re
import subprocess

import pytest

from apache_stack import MODES, ApacheStack

SECONDS = 5
CONCURRENCY = 4


def ab(url, key):
    r = subprocess.run(["ab", "-q", "-c", str(CONCURRENCY), "-t", str(SECONDS), "-n", "1000000",
                        "-H", f"x-api-key: {key}", url], capture_output=True, text=True, timeout=SECONDS + 60)
    out = r.stdout
    rate = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    p50 = re.search(r"^\s+50%\s+(\d+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\d+)", out, re.M)
    return rate, failed + (int(non2xx.group(1)) if non2xx else 0), p50.group(1) if p50 else "?", \
        p99.group(1) if p99 else "?"


def ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return f"{float(value) * {'us': 0.001, 'ms': 1, 's': 1000}[unit]:.1f}"


def wrk(url, key):
    r = subprocess.run(["wrk", "-t", "2", "-c", str(CONCURRENCY), "-d", f"{SECONDS}s", "--latency",
                        "-H", f"x-api-key: {key}", url], capture_output=True, text=True, timeout=SECONDS + 60)
    out = r.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
    bad = int(non2xx.group(1)) if non2xx else 0
    return rate, bad + (1 if errors else 0), ms(p50), ms(p99)


@pytest.mark.parametrize("mode", MODES)
def test_measure(mode, capsys):
    a = ApacheStack(mode)
    try:
        a.start()
        a.admin("add-plan", "unthrottled", "--rate", "1000000", "--burst", "1000000")
        key = a.add_key("bench", "unthrottled")
        assert a.request("PUT", "/clones/bench-item", {"status": "bench", "n": 1}, key=key).status in (200, 201)
        rows = []
        for name, path in (("GET /health", "/health"), ("GET /clones/{id}", "/clones/bench-item")):
            for tool, run in (("wrk", wrk), ("ab", ab)):
                rate, bad, p50, p99 = run(a.base_url + path, key)
                rows.append(f"{mode:10s} {tool:3s} {name:18s} {rate:8.0f} req/s  p50 {p50} ms  p99 {p99} ms  "
                            f"errors {bad}")
        with capsys.disabled():
            print("\n" + "\n".join(rows))
    finally:
        a.stop()
        a.cleanup()
