"""The S3 side: a client, one translation of botocore errors, and a streaming multipart upload."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from motorcade_backup.errors import (
    BucketMissingError,
    S3CredentialsError,
    S3OperationError,
    S3UnreachableError,
)
from motorcade_backup.logs import get_logger
from motorcade_backup.settings import Settings

log = get_logger("s3")

_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "InvalidToken"}
_BUCKET_CODES = {"NoSuchBucket"}

S3Client = Any  # boto3 clients are generated at run time; no stubs are pinned.


def make_client(settings: Settings) -> S3Client:
    """A path-style S3 client with short connect timeouts and few retries."""
    config = Config(
        region_name=settings.s3_region,
        connect_timeout=5,
        read_timeout=120,
        retries={"max_attempts": 3, "mode": "standard"},
        s3={"addressing_style": "path"},
        # S3-compatible servers differ in their support of the newer default CRC checksums; we hash ourselves.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        max_pool_connections=max(10, settings.upload_concurrency + 2),
    )
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key(),
        config=config,
    )


@contextmanager
def translate_errors(settings: Settings, action: str) -> Iterator[None]:
    """Turn botocore exceptions into the package's one-line errors."""
    try:
        yield
    except (EndpointConnectionError, ConnectTimeoutError) as exc:
        raise S3UnreachableError(f"S3 endpoint {settings.s3_endpoint} is unreachable ({action})") from exc
    except ReadTimeoutError as exc:
        raise S3UnreachableError(f"S3 endpoint {settings.s3_endpoint} stopped answering ({action})") from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _CREDENTIAL_CODES or status == 403:
            raise S3CredentialsError(
                f"S3 endpoint {settings.s3_endpoint} refused the credentials ({code or status}) while {action}"
            ) from exc
        if code in _BUCKET_CODES:
            raise BucketMissingError(
                f"S3 bucket '{settings.s3_bucket}' does not exist at {settings.s3_endpoint}"
            ) from exc
        message = error.get("Message") or code
        raise S3OperationError(f"S3 error while {action}: {code} {message}".strip()) from exc
    except BotoCoreError as exc:
        raise S3OperationError(f"S3 error while {action}: {exc}") from exc


def check_bucket(client: S3Client, settings: Settings) -> None:
    """Fail with one clear error unless the bucket exists and the credentials work."""
    with translate_errors(settings, "checking the bucket"):
        try:
            client.head_bucket(Bucket=settings.s3_bucket)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                raise BucketMissingError(
                    f"S3 bucket '{settings.s3_bucket}' does not exist at {settings.s3_endpoint}"
                ) from exc
            raise


def list_keys(client: S3Client, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """Every object under ``prefix`` (key, size, last modified)."""
    objects: list[dict[str, Any]] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects.extend(page.get("Contents", []))
    return objects


def abort_stale_uploads(client: S3Client, bucket: str, prefix: str) -> int:
    """Abort every unfinished multipart upload under ``prefix``; return how many."""
    aborted = 0
    response = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
    for upload in response.get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        log.warning("stale_upload_aborted", key=upload["Key"], initiated=upload.get("Initiated"))
        aborted += 1
    return aborted


class MultipartUpload:
    """Upload a stream as numbered parts with bounded concurrency; abort unless completed."""

    def __init__(self, client: S3Client, bucket: str, key: str, concurrency: int) -> None:
        self._client = client
        self._bucket = bucket
        self.key = key
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="s3-part")
        self._slots = threading.BoundedSemaphore(concurrency)
        self._futures: list[Future[dict[str, Any]]] = []
        self._upload_id: str | None = None
        self._completed = False

    def start(self) -> None:
        response = self._client.create_multipart_upload(
            Bucket=self._bucket, Key=self.key, ContentType="application/octet-stream"
        )
        self._upload_id = response["UploadId"]

    def add_part(self, data: bytes) -> None:
        """Queue one part; blocks while ``concurrency`` parts are already in flight."""
        number = len(self._futures) + 1
        self._raise_failed()
        self._slots.acquire()
        try:
            future = self._pool.submit(self._upload_part, number, data)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _f: self._slots.release())
        self._futures.append(future)

    def _upload_part(self, number: int, data: bytes) -> dict[str, Any]:
        response = self._client.upload_part(
            Bucket=self._bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=data
        )
        log.debug("part_uploaded", key=self.key, part=number, size=len(data))
        return {"PartNumber": number, "ETag": response["ETag"]}

    def _raise_failed(self) -> None:
        for future in self._futures:
            if future.done() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]

    def complete(self) -> None:
        parts = [future.result() for future in self._futures]
        self._client.complete_multipart_upload(
            Bucket=self._bucket, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": parts}
        )
        self._completed = True

    @property
    def parts_done(self) -> int:
        return sum(1 for f in self._futures if f.done() and f.exception() is None)

    def close(self) -> None:
        """Wait for in-flight parts; abort the upload unless it was completed."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._upload_id is not None and not self._completed:
            try:
                self._client.abort_multipart_upload(Bucket=self._bucket, Key=self.key, UploadId=self._upload_id)
                log.warning("upload_aborted", key=self.key)
            except (ClientError, BotoCoreError):
                log.warning("upload_abort_failed", key=self.key, hint="the next backup run aborts it")
