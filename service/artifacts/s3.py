"""Artifacts in an S3-compatible object store (AWS S3, MinIO, ...), shared by every replica.

Chosen by PARZEN_ARTIFACT_URL=s3://bucket/prefix, with PARZEN_S3_ENDPOINT_URL for anything
that is not AWS; credentials and region come from boto3's usual chain (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, an instance role...). boto3 signs every request.

Uploads are a multipart upload fed from the request stream, one part (8 MiB) in memory at a
time, so a 4 GiB checkpoint needs neither 4 GiB of memory nor of local disk on the API pod.
The object appears only when the upload is completed, so readers never see half of it; one
over the limit, or cut off, is aborted. An upload smaller than one part is a single PUT.
A replica killed mid-upload leaves an incomplete multipart upload, invisible to readers:
give the bucket a lifecycle rule AbortIncompleteMultipartUpload to reclaim its space.

Downloads stream the object's body through the API in chunks rather than redirecting to a
presigned URL: the API's tokens stay the only access control, and workers and browsers need
not reach the object store's endpoint (often an address inside the cluster).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

import anyio
import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from parzen.service.artifacts.base import (
    MAX_BYTES,
    ArtifactMissing,
    ArtifactStore,
    ArtifactStoreUnavailable,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, ObjectIdentifierTypeDef

PART_BYTES = 8 * 2**20  # S3 wants parts of at least 5 MiB (but the last)
CHUNK_BYTES = 2**20
T = TypeVar("T")


def parse_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix/")."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"an artifact URL looks like s3://bucket/prefix, not {url!r}")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


class S3ArtifactStore(ArtifactStore):
    def __init__(
        self,
        url: str,
        *,
        endpoint_url: str | None = None,
        max_bytes: int = MAX_BYTES,
        part_bytes: int = PART_BYTES,
    ) -> None:
        super().__init__(max_bytes=max_bytes)
        self.url, self.endpoint_url, self.part_bytes = url, endpoint_url, part_bytes
        self.bucket, self.prefix = parse_url(url)
        # Path-style addressing: MinIO and most self-hosted stores have no per-bucket DNS.
        config = Config(
            retries={"mode": "standard"},
            max_pool_connections=32,
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        # A client is thread-safe (a session is not): one per store, shared by all threads.
        self.s3: S3Client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, config=config
        )

    def describe(self) -> str:
        return self.url + (f" at {self.endpoint_url}" if self.endpoint_url else "")

    def object_name(self, key: str) -> str:
        return self.prefix + key

    async def save(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        name, size, buffer = self.object_name(key), 0, bytearray()
        upload: _Multipart | None = None
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > self.max_bytes:
                    raise self.too_large()
                buffer += chunk
                if len(buffer) >= self.part_bytes:
                    if upload is None:
                        upload = await self._call(_Multipart.begin, self, name)
                    await self._call(upload.add, bytes(buffer))
                    buffer.clear()
            if upload is None:
                await self._call(
                    self.s3.put_object, Bucket=self.bucket, Key=name, Body=bytes(buffer)
                )
            else:
                if buffer:
                    await self._call(upload.add, bytes(buffer))
                await self._call(upload.complete)
        except BaseException:
            if upload is not None:
                with anyio.CancelScope(shield=True):  # abort even when the client went away
                    await anyio.to_thread.run_sync(upload.abort)
            raise
        return size

    def download(self, key: str, filename: str) -> Response:
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=self.object_name(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ArtifactMissing(key) from exc
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        headers = {
            "Content-Length": str(obj["ContentLength"]),
            "Content-Disposition": f"attachment; filename*=utf-8''{quote(filename)}",
        }
        return StreamingResponse(
            _body_chunks(obj["Body"]), media_type="application/octet-stream", headers=headers
        )

    def delete_study(self, study: str) -> int:
        prefix, deleted = self.object_name(self.study_prefix(study)), 0
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:  # at most 1,000 keys a page, as delete_objects takes
                keys: list[ObjectIdentifierTypeDef] = [
                    {"Key": o["Key"]} for o in page.get("Contents", [])
                ]
                if keys:
                    self.s3.delete_objects(
                        Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
                    )
                    deleted += len(keys)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc
        return deleted

    async def _call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A blocking boto3 call off the event loop, its failures as ArtifactStoreUnavailable."""
        try:
            return await run_in_threadpool(func, *args, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc


class _Multipart:
    def __init__(self, store: S3ArtifactStore, name: str, upload_id: str) -> None:
        self.store, self.name, self.upload_id = store, name, upload_id
        self.parts: list[CompletedPartTypeDef] = []

    @classmethod
    def begin(cls, store: S3ArtifactStore, name: str) -> _Multipart:
        started = store.s3.create_multipart_upload(Bucket=store.bucket, Key=name)
        return cls(store, name, started["UploadId"])

    def _where(self) -> dict[str, Any]:
        return {"Bucket": self.store.bucket, "Key": self.name, "UploadId": self.upload_id}

    def add(self, data: bytes) -> None:
        number = len(self.parts) + 1
        part = self.store.s3.upload_part(PartNumber=number, Body=data, **self._where())
        self.parts.append({"ETag": part["ETag"], "PartNumber": number})

    def complete(self) -> None:
        self.store.s3.complete_multipart_upload(
            MultipartUpload={"Parts": self.parts}, **self._where()
        )

    def abort(self) -> None:
        with contextlib.suppress(ClientError, BotoCoreError):  # the lifecycle rule is the net
            self.store.s3.abort_multipart_upload(**self._where())


def _body_chunks(body: Any) -> Iterator[bytes]:
    """The object's bytes in chunks; Starlette iterates a sync iterator in its thread pool."""
    with contextlib.closing(body):
        yield from body.iter_chunks(CHUNK_BYTES)


def _unavailable(exc: Exception) -> ArtifactStoreUnavailable:
    return ArtifactStoreUnavailable(f"the artifact store failed: {exc}")
