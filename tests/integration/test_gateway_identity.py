# test_gateway_identity.py — with gateway = nginx the worker trusts the CLONE_JOBS_* parameters, so no client may set
# them: a header only ever arrives as HTTP_*, nginx drops header names with '_', and the site sets all four
# parameters itself on every route. Seen by a FastCGI recorder standing where the pool would.
import pytest

from test_gateway_promises import RecordingGateway

ATTEMPTS = {
    "Clone-Jobs-Client": "mallory", "Clone-Jobs-Plan": "gold", "Clone-Jobs-Quota": "1/DAY",
    "Clone-Jobs-Request-Id": "forged-id", "X-Clone-Jobs-Client": "mallory",
}


@pytest.fixture(scope="module")
def recorder():
    gw = RecordingGateway()
    try:
        gw.start()
        yield gw
    finally:
        gw.stop()


def test_a_client_cannot_set_the_gateways_parameters(recorder):
    gw = recorder
    before = len(gw.recorded_params())
    r = gw.request("GET", "/health", key=gw.keys["alice"], headers=ATTEMPTS)
    assert r.status == 200, r.body
    # http.client cannot send a name with '_' in every form; a raw request does.
    conn = gw.connection()
    try:
        conn.putrequest("GET", gw.stage + "/health", skip_accept_encoding=True)
        conn.putheader("x-api-key", gw.keys["alice"])
        conn.putheader("CLONE_JOBS_CLIENT", "mallory")
        conn.putheader("CLONE_JOBS_QUOTA", "1/DAY")
        conn.endheaders()
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    params = gw.recorded_params()[before:]
    assert len(params) == 2, params
    for p in params:
        assert p["CLONE_JOBS_CLIENT"] == "alice" and p["CLONE_JOBS_PLAN"] == "standard", p
        assert p["CLONE_JOBS_QUOTA"] == "" and p["CLONE_JOBS_REQUEST_ID"] != "forged-id", p
        # The headers arrive, if at all, under HTTP_ names, which the worker never reads for identity.
        claimed = {k: v for k, v in p.items() if k.startswith("CLONE_JOBS_") and v in ("mallory", "gold", "1/DAY")}
        assert claimed == {}, claimed
    assert params[0].get("HTTP_CLONE_JOBS_CLIENT") == "mallory"  # passed on, harmlessly, as a header
    # A name with '_' is dropped by nginx (underscores_in_headers off): it could pass for CLONE_JOBS_* nowhere.
    assert not [k for k in params[1] if "CLONE_JOBS" in k and k.startswith("HTTP_")], params[1]
