"""A real S3-compatible server for tests: moto in server mode on a free loopback port.

Credentials are dummies set in the environment, where boto3 (in-process and in `parzen
server` subprocesses) finds them as it would find real ones.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from parzen.service.server import free_port

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_buckets = itertools.count()


@contextmanager
def moto_s3() -> Iterator[str]:
    """Start moto's S3 server; yields its endpoint URL."""
    saved = {k: os.environ.get(k) for k in AWS_ENV}
    os.environ.update(AWS_ENV)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def s3_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, **_credentials())


def new_bucket(endpoint: str) -> str:
    name = f"parzen-test-{os.getpid()}-{next(_buckets)}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


def object_keys(endpoint: str, bucket: str) -> list[str]:
    listing = s3_client(endpoint).list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def pending_uploads(endpoint: str, bucket: str) -> list[str]:
    listing = s3_client(endpoint).list_multipart_uploads(Bucket=bucket)
    return [u["Key"] for u in listing.get("Uploads", [])]


def _credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": AWS_ENV["AWS_DEFAULT_REGION"],
    }
