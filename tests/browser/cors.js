// cors.js — run by cors.html in headless Chromium: cross-origin fetch() calls to the gateway with x-api-key and
// Content-Type application/json (both force a CORS preflight); stores what JS can read in window.corsResults.
"use strict";

(async function () {
  const q = new URLSearchParams(location.search);
  const api = q.get("api");
  const key = q.get("key");
  const tinyKey = q.get("tinyKey");
  const id = q.get("id");
  const burst = parseInt(q.get("burst") || "10", 10);
  const results = { origin: location.origin, steps: {} };

  // One call: what a script on this page can see of the answer (or the network/CORS error it got instead).
  async function call(method, path, apiKey, body, extraHeaders) {
    const init = { method: method, mode: "cors", cache: "no-store",
                   headers: Object.assign({ "x-api-key": apiKey }, extraHeaders || {}) };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    try {
      const r = await fetch(api + path, init);
      const text = await r.text();
      let json = null;
      try { json = JSON.parse(text); } catch (e) { /* not JSON: keep the text */ }
      return { status: r.status, body: text, json: json, etag: r.headers.get("ETag"),
               requestId: r.headers.get("x-amzn-RequestId") };
    } catch (e) {
      return { error: String(e) };
    }
  }

  try {
    // (a) create: JSON body, 201, body readable.
    results.steps.create = await call("POST", "/clones", key, { cloneID: id, status: "browser", n: 1 });
    // (b) read it back.
    results.steps.get = await call("GET", "/clones/" + encodeURIComponent(id), key);
    // (b2) conditional writes: If-Match is a non-safelisted header, so the browser sends it only when the
    // preflight's Access-Control-Allow-Headers names it. The item is at version 1 (ETag "1"): the first PATCH
    // holds and makes version 2, the second names the old version again and is refused.
    results.steps.ifMatchOk = await call("PATCH", "/clones/" + encodeURIComponent(id), key, { n: 2 },
                                         { "If-Match": "\"1\"" });
    results.steps.ifMatchStale = await call("PATCH", "/clones/" + encodeURIComponent(id), key, { n: 3 },
                                            { "If-Match": "\"1\"" });
    // (c) a wrong key: the gateway's 403 must be readable, not an opaque CORS failure.
    results.steps.wrongKey = await call("GET", "/clones", "wrong-" + key);
    // (d) the tiny plan's key, many requests at once: some are 429 and JS can read why.
    const calls = [];
    const burstStarted = performance.now();
    for (let i = 0; i < burst; i++) {
      calls.push(call("GET", "/health", tinyKey));
    }
    results.steps.burst = await Promise.all(calls);
    results.burstMs = performance.now() - burstStarted;  // the bucket refills meanwhile
  } catch (e) {
    results.error = String(e);
  } finally {
    window.corsResults = results;
    document.getElementById("results").textContent = JSON.stringify(results, null, 2);
    document.getElementById("state").textContent = "done";
  }
})();
