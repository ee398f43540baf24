"""A real S3-compatible server on loopback for the sharing tests: moto's server mode (the same
werkzeug app `moto_server` runs), in a thread of the test process.

- IAM authentication is on: requests must be signed with the access key the fixture creates, so a
  wrong key is refused as a real bucket would refuse it.
- `stop()` closes the listening socket (new connections are refused) and `start()` brings the
  server back on the same port with the objects it already had (moto keeps its state in this
  process), like an S3 endpoint that went away for a while.
- `stop_after_puts(n)` lets n object uploads through, then drops every connection and stops the
  server: a server that dies in the middle of a `dvc push`.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
from dataclasses import dataclass, field

import boto3
from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

REGION = "us-east-1"
ALLOW_S3 = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'


class QuietHandler(MotoRequestHandler):
    def log(self, *args: object, **kwargs: object) -> None:  # no access log in the test output
        pass


@dataclass
class S3Server:
    port: int = 0
    access_key_id: str = ""
    secret_access_key: str = ""
    object_puts: int = 0
    _budget: int | None = None  # object uploads left before the server "dies"
    _dead: bool = False
    _server: BaseWSGIServer | None = None
    _thread: threading.Thread | None = None
    _stopper: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> S3Server:
        if self._stopper is not None:  # a mid-push death still shutting down
            self._stopper.join(30)
            self._stopper = None
        self._dead = False
        self._server = make_server("127.0.0.1", self.port, self._app(DomainDispatcherApplication(create_backend_app)),
                                   threaded=True, request_handler=QuietHandler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket, so clients get 'connection refused'."""
        self._dead = True
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(10)
            self._server = None

    def stop_after_puts(self, uploads: int) -> None:
        self._budget = uploads

    # -- accounts and buckets ----------------------------------------------------------------
    def enable_iam(self) -> None:
        """Create a user allowed s3:* with an access key, then make the server check signatures."""
        iam = self.client("iam", "moto-bootstrap", "moto-bootstrap")
        iam.create_user(UserName="synthclf-team")
        iam.put_user_policy(UserName="synthclf-team", PolicyName="s3-all", PolicyDocument=ALLOW_S3)
        key = iam.create_access_key(UserName="synthclf-team")["AccessKey"]
        self.access_key_id, self.secret_access_key = key["AccessKeyId"], key["SecretAccessKey"]
        self._auth_before = (moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count)
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        ActionAuthenticatorMixin.request_count = 0

    def disable_iam(self) -> None:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = self._auth_before

    def client(self, service: str = "s3", key_id: str | None = None, secret: str | None = None):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=key_id or self.access_key_id,
                            aws_secret_access_key=secret or self.secret_access_key)

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def objects(self, bucket: str) -> dict[str, bytes]:
        s3 = self.client()
        keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                for item in page.get("Contents", [])]
        return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}

    def corrupt_objects(self, bucket: str) -> list[str]:
        """DVC names every object by the md5 of its content: any mismatch is a damaged upload."""
        def named_md5(key: str) -> str:
            return key.split("/md5/", 1)[1].replace("/", "").removesuffix(".dir")

        return [key for key, body in self.objects(bucket).items()
                if "/md5/" in key and named_md5(key) != hashlib.md5(body).hexdigest()]

    # -- the WSGI wrapper that can kill the server mid-push -----------------------------------
    def _app(self, inner):
        def app(environ, start_response):
            if self._dead or self._spend_upload(environ):
                self._drop(environ)
                start_response("503 Service Unavailable", [("Content-Length", "0")])
                return [b""]
            return inner(environ, start_response)
        return app

    def _spend_upload(self, environ) -> bool:
        """True when this upload is one past the budget: the server dies now."""
        if environ["REQUEST_METHOD"] != "PUT" or "/md5/" not in environ.get("PATH_INFO", ""):
            return False
        with self._lock:
            self.object_puts += 1
            if self._budget is None or self.object_puts <= self._budget:
                return False
            self._budget = None
            self._dead = True
        self._stopper = threading.Thread(target=self.stop, daemon=True)
        self._stopper.start()
        return True

    @staticmethod
    def _drop(environ) -> None:
        connection = environ.get("werkzeug.socket")
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
