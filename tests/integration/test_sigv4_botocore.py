# test_sigv4_botocore.py — holds the C signer (src/sigv4.c through tests/tools/sigv4-sign) against botocore's
# SigV4Auth on realistic DynamoDB requests: canonical request, string to sign and signature must be identical.
import datetime
import json
import os
import subprocess
import types
from unittest import mock
from urllib.parse import urlsplit

import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
# Shaped like an STS token: long, with '/', '+' and '=' in it.
STS_TOKEN = ("IQoJb3JpZ2luX2VjEOr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD6+example/session+token="
             + "A" * 300 + "==")
SIGNER_TIMEOUT_S = 30
DDB_JSON = "application/x-amz-json-1.0"


@pytest.fixture(scope="module")
def signer():
    build = os.environ.get("CLONE_JOBS_BUILD_DIR")
    if not build:
        pytest.fail("CLONE_JOBS_BUILD_DIR is not set: it must name the build folder holding tests/tools/sigv4-sign")
    path = os.path.join(build, "tests", "tools", "sigv4-sign")
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: build the check programs first")
    return path


class _Recording:
    """Keeps the texts botocore computes inside add_auth, which only logs them."""

    def canonical_request(self, request):
        self.recorded_canonical_request = super().canonical_request(request)
        return self.recorded_canonical_request

    def string_to_sign(self, request, canonical_request):
        self.recorded_string_to_sign = super().string_to_sign(request, canonical_request)
        return self.recorded_string_to_sign

    def signature(self, string_to_sign, request):
        self.recorded_signature = super().signature(string_to_sign, request)
        return self.recorded_signature


class RecordingSigV4Auth(_Recording, SigV4Auth):
    pass


class RecordingS3SigV4Auth(_Recording, S3SigV4Auth):
    pass


def fixed_clock(instant):
    """botocore.auth reads the time only through datetime.datetime.utcnow(); pin it there alone."""

    class FixedDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return cls(instant.year, instant.month, instant.day, instant.hour, instant.minute, instant.second)

    return mock.patch.object(botocore.auth, "datetime", types.SimpleNamespace(datetime=FixedDatetime))


def botocore_sign(case):
    """Sign through botocore's public add_auth at the case's instant; return what it produced."""
    request = AWSRequest(method=case["method"], url=case["url"], data=case["body"],
                         headers=dict(case["headers"]))
    before = {k.lower() for k in request.headers.keys()}
    creds = Credentials(AKID, SECRET, case.get("token"))
    auth = case.get("auth", RecordingSigV4Auth)(creds, case["service"], case["region"])
    with fixed_clock(case["instant"]):
        auth.add_auth(request)
    assert request.headers["X-Amz-Date"] == case["instant"].strftime("%Y%m%dT%H%M%SZ"), \
        "botocore did not sign at the pinned time: the clock patch no longer works"
    added = {k.lower(): v for k, v in request.headers.items()
             if k.lower() not in before and k.lower() != "authorization"}
    return {
        "canonical_request": auth.recorded_canonical_request,
        "string_to_sign": auth.recorded_string_to_sign,
        "signature": auth.recorded_signature,
        "authorization": request.headers["Authorization"],
        "added": added,
    }


def our_sign(signer, case, body=None):
    """The same request through sigv4-sign, with the Host header our client would send."""
    parts = urlsplit(case["url"])
    payload = {
        "method": case["method"],
        "path": parts.path,
        "headers": [["Host", case["host"]]] + [list(h) for h in case["headers"]],
        "body": (case["body"] if body is None else body).decode("utf-8"),
        "amz_date": case["instant"].strftime("%Y%m%dT%H%M%SZ"),
        "region": case["region"],
        "service": case["service"],
        "access_key_id": AKID,
        "secret_access_key": SECRET,
        "normalize_path": case.get("normalize_path", True),
        "sign_body_header": case.get("sign_body_header", False),
    }
    if parts.query:
        payload["query"] = parts.query
    if case.get("token"):
        payload["session_token"] = case["token"]
    r = subprocess.run([signer], input=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=SIGNER_TIMEOUT_S)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    out = json.loads(r.stdout)
    out["added"] = {name.lower(): value for name, value in out["headers"]}
    return out


def ddb_headers(operation):
    return [("Content-Type", DDB_JSON), ("X-Amz-Target", f"DynamoDB_20120810.{operation}")]


def body(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def large_put_item(megabytes):
    """A PutItem near DynamoDB's item limits, full of multi-byte characters and JSON escapes."""
    chunk = "clone ✓ jöb 日本語 😀 \"quoted\" \\ tab\t nl\n "
    text = (chunk * (megabytes * 1024 * 1024 // len(chunk.encode("utf-8")) + 1))
    return body({"TableName": "clone-jobs", "Item": {"cloneID": {"S": "big-1"}, "blob": {"S": text}}})


DELETE_BODY = body({"TableName": "clone-jobs", "Key": {"cloneID": {"S": "x"}}, "ReturnValues": "ALL_OLD"})
T1 = datetime.datetime(2024, 1, 2, 3, 4, 5)
T2 = datetime.datetime(2031, 12, 31, 23, 59, 59)
T3 = datetime.datetime(2020, 2, 29, 0, 0, 0)

CASES = {
    "put_item_unicode_us_east_1": dict(
        method="POST", url="https://dynamodb.us-east-1.amazonaws.com/", host="dynamodb.us-east-1.amazonaws.com",
        region="us-east-1", service="dynamodb", instant=T1, headers=ddb_headers("PutItem"),
        body=body({"TableName": "clone-jobs", "Item": {
            "cloneID": {"S": "ünïcødé-✓-日本語-😀"}, "note": {"S": "line\nbreak \"q\" \\ \u2028"},
            "n": {"N": "12345678901234567890123456789012345678"}}})),
    "get_item_loopback_with_token": dict(
        method="POST", url="http://127.0.0.1:8000/", host="127.0.0.1:8000", region="us-east-1",
        service="dynamodb", instant=T1, token=STS_TOKEN, headers=ddb_headers("GetItem"),
        body=body({"TableName": "clone-jobs", "Key": {"cloneID": {"S": "abc"}}, "ConsistentRead": True})),
    "scan_eu_west_1_with_token": dict(
        method="POST", url="https://dynamodb.eu-west-1.amazonaws.com/", host="dynamodb.eu-west-1.amazonaws.com",
        region="eu-west-1", service="dynamodb", instant=T2, token=STS_TOKEN, headers=ddb_headers("Scan"),
        body=body({"TableName": "clone-jobs", "Limit": 25, "ExclusiveStartKey": {"cloneID": {"S": "é/+="}},
                   "FilterExpression": "#s = :v", "ExpressionAttributeNames": {"#s": "status"},
                   "ExpressionAttributeValues": {":v": {"S": "running"}}})),
    "put_item_large_ap_southeast_2": dict(
        method="POST", url="https://dynamodb.ap-southeast-2.amazonaws.com/",
        host="dynamodb.ap-southeast-2.amazonaws.com", region="ap-southeast-2", service="dynamodb",
        instant=T3, headers=ddb_headers("PutItem"), body=large_put_item(2)),
    "batch_write_large_loopback_with_token": dict(
        method="POST", url="http://127.0.0.1:8000/", host="127.0.0.1:8000", region="us-west-2",
        service="dynamodb", instant=T2, token="short-token", headers=ddb_headers("BatchWriteItem"),
        body=large_put_item(5)),
    "list_tables_empty_object_cn_north_1": dict(
        method="POST", url="https://dynamodb.cn-north-1.amazonaws.com.cn/",
        host="dynamodb.cn-north-1.amazonaws.com.cn", region="cn-north-1", service="dynamodb", instant=T1,
        headers=ddb_headers("ListTables"), body=b"{}"),
    "delete_item_localhost_port_with_content_length": dict(
        method="POST", url="http://localhost:4567/", host="localhost:4567", region="us-west-2",
        service="dynamodb", instant=T3,
        headers=ddb_headers("DeleteItem") + [("Content-Length", str(len(DELETE_BODY)))], body=DELETE_BODY),
    "update_item_ipv6_loopback": dict(
        method="POST", url="http://[::1]:8000/", host="[::1]:8000", region="us-gov-west-1", service="dynamodb",
        instant=T2, headers=ddb_headers("UpdateItem"),
        body=body({"TableName": "clone-jobs", "Key": {"cloneID": {"S": "x"}},
                   "UpdateExpression": "SET #k = :v", "ExpressionAttributeNames": {"#k": "status"},
                   "ExpressionAttributeValues": {":v": {"S": "done"}}})),
    "describe_table_odd_header_blanks": dict(
        method="POST", url="https://dynamodb.us-east-1.amazonaws.com/", host="dynamodb.us-east-1.amazonaws.com",
        region="us-east-1", service="dynamodb", instant=T1,
        headers=[("Content-Type", "  " + DDB_JSON + "  "), ("X-Amz-Target", "DynamoDB_20120810.DescribeTable"),
                 ("X-Clone-Jobs-Note", " a   b\t\tc ")],
        body=body({"TableName": "clone-jobs"})),
    # Beyond DynamoDB's "/": a non-S3 path is normalized and its encoded form encoded again; a query
    # already encoded (uppercase hex, as botocore's serializers write it) signs unchanged but sorted.
    "api_gateway_path_and_query": dict(
        method="GET", url="https://abc123.execute-api.eu-central-1.amazonaws.com/prod/./clones//a%20b/x/../%E2%9C%93/"
                          "?status=ok&limit=10&cursor=eyJ4Ijoi%2B%2F%3D%22fQ%3D%3D&limit=2",
        host="abc123.execute-api.eu-central-1.amazonaws.com", region="eu-central-1", service="execute-api",
        instant=T1, token=STS_TOKEN, headers=[("Accept", "application/json")], body=b""),
    # S3 signs the path as sent, once encoded, and its payload hash header.
    "s3_style_path_kept": dict(
        method="PUT", url="http://127.0.0.1:9000/bucket/key%20with%20space//a%2Fb/./c?x-id=PutObject",
        host="127.0.0.1:9000", region="us-east-1", service="s3", instant=T3, auth=RecordingS3SigV4Auth,
        normalize_path=False, sign_body_header=True, headers=[("Content-Type", "text/plain")],
        body="S3 ✓ body".encode("utf-8")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_as_botocore(signer, name):
    case = CASES[name]
    theirs = botocore_sign(case)
    ours = our_sign(signer, case)
    assert ours["canonical_request"] == theirs["canonical_request"]
    assert ours["string_to_sign"] == theirs["string_to_sign"]
    assert ours["signature"] == theirs["signature"]
    assert ours["authorization"] == theirs["authorization"]
    assert ours["added"] == theirs["added"]


def test_comparison_sees_a_one_byte_change(signer):
    """The comparison above is only worth something if one changed body byte breaks it."""
    case = CASES["put_item_unicode_us_east_1"]
    theirs = botocore_sign(case)
    changed = case["body"].replace(b"clone-jobs", b"clone-jobz")
    ours = our_sign(signer, case, body=changed)
    assert ours["canonical_request"] != theirs["canonical_request"]
    assert ours["signature"] != theirs["signature"]


def test_request_without_host_is_refused(signer):
    payload = {"method": "POST", "path": "/", "headers": [["Content-Type", DDB_JSON]], "body": "{}",
               "amz_date": "20240102T030405Z", "region": "us-east-1", "service": "dynamodb",
               "access_key_id": AKID, "secret_access_key": SECRET}
    r = subprocess.run([signer], input=json.dumps(payload).encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=SIGNER_TIMEOUT_S)
    assert r.returncode == 1
    assert r.stdout == b""
