# test_browser.py — CORS as a browser sees it: headless Chromium loads tests/browser/cors.html from another loopback
# origin (plain http), the page calls the gateway with x-api-key (preflight and request), and the test reads what JS got.
import functools
import http.server
import json
import math
import os
import shutil
import tempfile
import threading
import uuid
from urllib.parse import urlencode

import pytest

from gateway_stack import SRC, WORK, gateway, wait_until  # noqa: F401  (the fixture)

PAGE_DIR = os.path.join(SRC, "tests", "browser")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_S = 20
BURST = 10


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class PageServer:
    """tests/browser over plain http on a free loopback port, in a thread: another origin than the gateway."""

    def __init__(self):
        handler = functools.partial(QuietHandler, directory=PAGE_DIR)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def start_chromium(profile):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                "--ignore-certificate-errors", "--no-proxy-server", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_S)
    driver.set_script_timeout(WAIT_S)
    return driver


def access_log_lines(gateway, offset):
    """nginx's JSON access-log lines written after byte offset."""
    with open(os.path.join(gateway.logs, "access.log"), "rb") as fh:
        fh.seek(offset)
        return [json.loads(line) for line in fh.read().decode().splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def browser_run(gateway):
    """Load the page once in Chromium; returns (what the page recorded, ids and keys used, access-log lines)."""
    from selenium.webdriver.support.ui import WebDriverWait

    run = uuid.uuid4().hex[:6]
    names = {"key": "browser-" + run, "tinyKey": "browser-tiny-" + run}
    key = gateway.add_key(names["key"], "standard")
    tiny_key = gateway.add_key(names["tinyKey"], "tiny")
    # add_key returns once nginx has reloaded: both keys are live. The tiny key is not used before the page's
    # burst, so its bucket is full then (a request here would spend one of its 4).
    assert gateway.request("GET", "/health", key=key).status == 200
    clone_id = "browser-" + uuid.uuid4().hex
    log_offset = os.path.getsize(os.path.join(gateway.logs, "access.log"))

    server = PageServer()
    profile = tempfile.mkdtemp(prefix="chromium-", dir=WORK)
    driver = None
    try:
        driver = start_chromium(profile)
        query = urlencode({"api": gateway.base_url, "key": key, "tinyKey": tiny_key, "id": clone_id, "burst": BURST})
        driver.get(f"{server.origin}/cors.html?{query}")
        WebDriverWait(driver, WAIT_S).until(lambda d: d.execute_script("return window.corsResults !== undefined"))
        results = driver.execute_script("return window.corsResults")
        shown = driver.find_element("id", "state").text
    finally:
        if driver is not None:
            driver.quit()
        server.stop()
        shutil.rmtree(profile, ignore_errors=True)
    # Kept for inspection when a test fails (tests/run keeps the work folder then).
    with open(os.path.join(WORK, f"browser-results-{run}.json"), "w") as fh:
        json.dump(results, fh, indent=2)
    # nginx writes the log line when it answers; all answers are in before the page finished.
    lines = access_log_lines(gateway, log_offset)
    yield {"results": results, "state": shown, "id": clone_id, "names": names, "origin": server.origin,
           "log": lines}
    gateway.request("DELETE", "/clones/" + clone_id, key=key)


def step(browser_run, name):
    r = browser_run["results"]
    assert "error" not in r, r
    s = browser_run["results"]["steps"].get(name)
    assert s is not None, f"the page did not run step {name}: {r}"
    return s


def test_the_page_ran_from_another_origin(browser_run, gateway):
    assert browser_run["state"] == "done"
    origin = browser_run["results"]["origin"]
    assert origin == browser_run["origin"]
    assert origin.startswith("http://127.0.0.1:") and not gateway.base_url.startswith(origin)


def test_create_is_201_and_its_body_is_readable(browser_run):
    s = step(browser_run, "create")
    assert "error" not in s, s  # a CORS failure shows up as a TypeError here
    assert s["status"] == 201, s
    item = s["json"]
    assert item["cloneID"] == browser_run["id"] and item["status"] == "browser" and item["n"] == 1, s
    assert item["version"] == 1, s


def test_get_is_200_and_its_body_is_readable(browser_run):
    s = step(browser_run, "get")
    assert "error" not in s, s
    assert s["status"] == 200, s
    assert s["json"]["cloneID"] == browser_run["id"] and s["json"]["status"] == "browser", s


def test_a_conditional_patch_with_if_match_is_200_then_412(browser_run):
    """If-Match is not CORS-safelisted: without it in Access-Control-Allow-Headers the browser refuses to send
    the PATCH at all (a TypeError here), so a 200 and a 412 prove the preflight allows it."""
    ok = step(browser_run, "ifMatchOk")
    assert "error" not in ok, ok
    assert ok["status"] == 200, ok
    assert ok["json"]["n"] == 2 and ok["json"]["version"] == 2 and ok["etag"] == '"2"', ok
    stale = step(browser_run, "ifMatchStale")
    assert "error" not in stale, stale
    assert stale["status"] == 412, stale
    assert stale["json"] == {"message": "If-Match does not match the item's current ETag"}, stale


def test_wrong_key_403_is_readable(browser_run):
    s = step(browser_run, "wrongKey")
    assert "error" not in s, s
    assert s["status"] == 403, s
    assert s["body"] == '{"message":"Forbidden"}', s


def test_tiny_plan_burst_gives_a_readable_429(browser_run):
    answers = step(browser_run, "burst")
    assert len(answers) == BURST
    assert all("error" not in a for a in answers), answers
    statuses = [a["status"] for a in answers]
    assert set(statuses) <= {200, 429} and 200 in statuses, statuses
    throttled = [a for a in answers if a["status"] == 429]
    # tiny: 1 request/s, burst 3: 4 pass at once, and one more per second the burst took (slow on a busy
    # machine), counting a started second.
    refill = math.ceil(browser_run["results"]["burstMs"] / 1000.0)
    assert len(throttled) >= BURST - 4 - refill, (statuses, refill)
    assert throttled, statuses
    assert all(a["body"] == '{"message":"Too Many Requests"}' for a in throttled), throttled


def test_the_browser_preflighted_without_a_key(browser_run, gateway):
    log = browser_run["log"]
    stage = gateway.stage
    preflights = [l for l in log if l["method"] == "OPTIONS"]
    uris = {l["uri"] for l in preflights}
    for uri in (stage + "/clones", stage + "/clones/" + browser_run["id"], stage + "/health"):
        assert uri in uris, f"no preflight for {uri} in the access log: {sorted(uris)}"
    assert all(l["status"] == 200 and l["client"] == "" for l in preflights), preflights
    # And the real requests came after, with the page's keys.
    names = browser_run["names"]
    real = [(l["method"], l["uri"], l["status"], l["client"]) for l in log if l["method"] != "OPTIONS"]
    assert ("POST", stage + "/clones", 201, names["key"]) in real, real
    assert ("GET", stage + "/clones/" + browser_run["id"], 200, names["key"]) in real, real
    assert ("PATCH", stage + "/clones/" + browser_run["id"], 200, names["key"]) in real, real
    assert ("PATCH", stage + "/clones/" + browser_run["id"], 412, names["key"]) in real, real
    assert ("GET", stage + "/clones", 403, "") in real, real
    assert sum(1 for m, u, s, c in real if u == stage + "/health" and c == names["tinyKey"]) == BURST, real
