#!/usr/bin/python3
# lambda_shape.py — the tutorial's Python Lambda (lambda_handler on httpMethod/path, boto3 DynamoDB CRUD) behind a
# small threaded HTTP server that turns each request into an API Gateway proxy event; bench/run's alternative.
#
# Run with Debian's /usr/bin/python3 (python3-boto3). Environment: DYNAMODB_ENDPOINT (the store), TABLE_NAME,
# LAMBDA_LOG (the "CloudWatch" file), AWS_* credentials and region. Arguments: PORT. Several processes may share
# the port (SO_REUSEPORT), as several Lambda instances would share the load. It prints "READY" once boto3 has
# answered a first call, and exits when its stdin closes, so it never outlives bench/run.
import json
import logging
import os
import socket
import sys
import threading
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import boto3
from botocore.config import Config

# ---------------------------------------------------------------------------------------------------------------
# lambda_function.py, as the tutorial writes it (its "product" is our "clone"). Two changes, both so it can run at
# all outside AWS: the endpoint comes from the environment (the tutorial uses the region's), and the connection
# pool is as large as the concurrency the bench offers (botocore's default of 10 would cap it). Request bodies are
# parsed with Decimal for floats, because boto3 refuses float values in put_item; answers are encoded with the
# tutorial's custom encoder (Decimal -> float), so Decimal never breaks json.dumps.
logger = logging.getLogger()
logger.setLevel(logging.INFO)

dynamodbTableName = os.environ.get("TABLE_NAME", "clone-jobs")
dynamodb = boto3.resource("dynamodb", endpoint_url=os.environ.get("DYNAMODB_ENDPOINT"),
                          config=Config(max_pool_connections=int(os.environ.get("POOL_CONNECTIONS", "512"))))
table = dynamodb.Table(dynamodbTableName)

getMethod = "GET"
postMethod = "POST"
patchMethod = "PATCH"
deleteMethod = "DELETE"
healthPath = "/health"
clonePath = "/clone"
clonesPath = "/clones"


class CustomEncoder(json.JSONEncoder):
    def default(self, obj):
        if isinstance(obj, Decimal):
            return float(obj)
        return json.JSONEncoder.default(self, obj)


def lambda_handler(event, context):
    logger.info(event)
    httpMethod = event["httpMethod"]
    path = event["path"]
    if httpMethod == getMethod and path == healthPath:
        response = buildResponse(200)
    elif httpMethod == getMethod and path == clonePath:
        response = getClone(event["queryStringParameters"]["cloneID"])
    elif httpMethod == getMethod and path == clonesPath:
        response = getClones()
    elif httpMethod == postMethod and path == clonePath:
        response = saveClone(json.loads(event["body"], parse_float=Decimal))
    elif httpMethod == patchMethod and path == clonePath:
        requestBody = json.loads(event["body"], parse_float=Decimal)
        response = modifyClone(requestBody["cloneID"], requestBody["updateKey"], requestBody["updateValue"])
    elif httpMethod == deleteMethod and path == clonePath:
        requestBody = json.loads(event["body"])
        response = deleteClone(requestBody["cloneID"])
    else:
        response = buildResponse(404, "Not Found")
    return response


def getClone(cloneID):
    try:
        response = table.get_item(Key={"cloneID": cloneID})
        if "Item" in response:
            return buildResponse(200, response["Item"])
        return buildResponse(404, {"Message": "cloneID: %s not found" % cloneID})
    except Exception:
        logger.exception("Do your custom error handling here. I am just gonna log it out here!!")


def getClones():
    try:
        response = table.scan()
        result = response["Items"]
        while "LastEvaluatedKey" in response:
            response = table.scan(ExclusiveStartKey=response["LastEvaluatedKey"])
            result.extend(response["Items"])
        return buildResponse(200, {"clones": result})
    except Exception:
        logger.exception("Do your custom error handling here. I am just gonna log it out here!!")


def saveClone(requestBody):
    try:
        table.put_item(Item=requestBody)
        return buildResponse(200, {"Operation": "SAVE", "Message": "SUCCESS", "Item": requestBody})
    except Exception:
        logger.exception("Do your custom error handling here. I am just gonna log it out here!!")


def modifyClone(cloneID, updateKey, updateValue):
    try:
        response = table.update_item(Key={"cloneID": cloneID}, UpdateExpression="set %s = :value" % updateKey,
                                     ExpressionAttributeValues={":value": updateValue}, ReturnValues="UPDATED_NEW")
        return buildResponse(200, {"Operation": "UPDATE", "Message": "SUCCESS", "UpdatedAttributes": response})
    except Exception:
        logger.exception("Do your custom error handling here. I am just gonna log it out here!!")


def deleteClone(cloneID):
    try:
        response = table.delete_item(Key={"cloneID": cloneID}, ReturnValues="ALL_OLD")
        return buildResponse(200, {"Operation": "DELETE", "Message": "SUCCESS", "deletedItem": response})
    except Exception:
        logger.exception("Do your custom error handling here. I am just gonna log it out here!!")


def buildResponse(statusCode, body=None):
    response = {"statusCode": statusCode,
                "headers": {"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"}}
    if body is not None:
        response["body"] = json.dumps(body, cls=CustomEncoder)
    return response


# ---------------------------------------------------------------------------------------------------------------
# The harness: what API Gateway and the Lambda runtime do, cut to the bone. One thread per connection (nginx keeps
# them alive), one proxy event per request, the handler's answer sent back; a missing or broken answer is API
# Gateway's 502.
class LambdaContext:
    def __init__(self, request_id):
        self.aws_request_id = request_id
        self.function_name = "clone-jobs"
        self.memory_limit_in_mb = 500


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle on, the body would wait for nginx's delayed ACK (40 ms).
    disable_nagle_algorithm = True

    def _invoke(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else None
        query = parse_qsl(url.query, keep_blank_values=True)
        request_id = str(uuid.uuid4())
        headers = dict(self.headers.items())
        event = {
            "resource": url.path, "path": url.path, "httpMethod": self.command,
            "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": dict(query) or None,
            "multiValueQueryStringParameters": ({k: [v for kk, v in query if kk == k] for k, _ in query} or None),
            "pathParameters": None, "stageVariables": None,
            "requestContext": {"requestId": request_id, "httpMethod": self.command, "path": "/prod" + url.path,
                               "stage": "prod", "identity": {"sourceIp": self.client_address[0]}},
            "body": body, "isBase64Encoded": False,
        }
        try:
            result = lambda_handler(event, LambdaContext(request_id))
        except Exception:
            logger.exception("handler failed")
            result = None
        if not isinstance(result, dict) or "statusCode" not in result:
            status, out, hdrs = 502, b'{"message": "Internal server error"}', {"Content-Type": "application/json"}
        else:
            status, out, hdrs = result["statusCode"], (result.get("body") or "").encode("utf-8"), result["headers"]
        self.send_response(status)
        for name, value in hdrs.items():
            self.send_header(name, value)
        self.send_header("x-amzn-RequestId", request_id)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _invoke

    def log_message(self, format, *args):
        pass  # the handler logs each event itself, as the Lambda does


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def server_bind(self):
        # Several processes on one port: the kernel spreads connections over them.
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


def main():
    if len(sys.argv) != 2:
        print("usage: lambda_shape.py PORT", file=sys.stderr)
        return 2
    handler = logging.FileHandler(os.environ.get("LAMBDA_LOG", os.devnull))
    handler.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s\t%(message)s"))
    logger.addHandler(handler)
    # A first call on this thread loads botocore's models and checks the table is there, before any load.
    table.get_item(Key={"cloneID": "lambda-shape-warm-up"})
    server = Server(("127.0.0.1", int(sys.argv[1])), ProxyHandler)

    def stdin_watch():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=stdin_watch, daemon=True).start()
    print("READY", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
