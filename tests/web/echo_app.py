"""A WSGI application that answers, as JSON, what reached it: the serving worker's pid, the
headers a proxy sets, the length of the body it read."""

import json
import os


def application(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    answer = json.dumps(
        {
            "pid": os.getpid(),
            "host": environ.get("HTTP_HOST"),
            "forwarded_for": environ.get("HTTP_X_FORWARDED_FOR"),
            "forwarded_proto": environ.get("HTTP_X_FORWARDED_PROTO"),
            "remote_addr": environ.get("REMOTE_ADDR"),
            "body_length": len(body),
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
    return [answer]
