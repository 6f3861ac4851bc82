"""S3 object store (boto3): objects, streaming reads and multipart writes, presigned URLs.

One boto3 client per store, built in ``__init__`` from a session of its own (boto3 clients
are thread-safe, sessions are not; a private session also resolves credentials when the
store is built rather than reusing boto3's process-wide default session).
``Settings.aws_endpoint_url`` points it at the local stack's moto server, where path-style
addressing is used (``http://127.0.0.1:PORT/BUCKET/KEY``).

Why one module of about 420 lines: one adapter per AWS service; the streaming reader and the
multipart writer are part of the object store's contract.
"""

from __future__ import annotations

import contextlib
import io
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from findme.config import Settings
from findme.errors import DependencyError, InvalidInputError, NotFoundError
from findme.ports import ObjectInfo, PresignedPost

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

#: S3's minimum size of every multipart part but the last (5 MiB), from the S3 API reference
#: "Amazon S3 multipart upload limits".
MIN_PART_BYTES = 5 * 1024 * 1024
#: Part size used by the multipart writer (8 MiB: boto3's default multipart_chunksize).
DEFAULT_PART_BYTES = 8 * 1024 * 1024
#: Multipart parts uploaded concurrently by one writer (S3 serves parts in parallel).
PARTS_IN_FLIGHT = 3
#: DeleteObjects accepts at most 1,000 keys per request.
DELETE_BATCH = 1000
_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def build_client(settings: Settings) -> S3Client:
    """An S3 client for ``settings`` (path-style and SigV4 when an endpoint is overridden)."""
    config = Config(
        signature_version="s3v4",
        retries={"max_attempts": 5, "mode": "standard"},
        # ZIP builds fetch originals ahead and upload parts concurrently (about 9 at once)
        max_pool_connections=16,
        s3={"addressing_style": "path" if settings.aws_endpoint_url else "auto"},
    )
    return boto3.session.Session().client(
        "s3",
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=config,
    )


class _BodyReader(io.RawIOBase):
    """A raw, read-only stream over a botocore ``StreamingBody``."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data: bytes = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class _MultipartWriter(io.RawIOBase):
    """Buffers writes into parts of ``part_bytes`` and uploads them as S3 multipart parts,
    up to ``parts_in_flight`` at a time on threads (a write waits only when that many are
    still uploading, so memory stays near ``(parts_in_flight + 1) x part_bytes``).

    Nothing is uploaded until the first part is full; an object smaller than one part is
    written with a single ``PutObject`` on :meth:`finish`.
    """

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        key: str,
        content_type: str,
        part_bytes: int,
        parts_in_flight: int = PARTS_IN_FLIGHT,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._content_type = content_type
        self._part_bytes = part_bytes
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._next_number = 1
        self._max_in_flight = max(1, parts_in_flight)
        self._in_flight: deque[Future[dict[str, Any]]] = deque()
        self._pool: ThreadPoolExecutor | None = None
        self.size_bytes = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed multipart writer")
        chunk = bytes(data)
        self._buffer += chunk
        self.size_bytes += len(chunk)
        while len(self._buffer) >= self._part_bytes:
            self._submit_part(bytes(self._buffer[: self._part_bytes]))
            del self._buffer[: self._part_bytes]
        return len(chunk)

    def _submit_part(self, data: bytes) -> None:
        if self._upload_id is None:
            created = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ContentType=self._content_type
            )
            self._upload_id = created["UploadId"]
            self._pool = ThreadPoolExecutor(self._max_in_flight, thread_name_prefix="s3-part")
        assert self._pool is not None
        while len(self._in_flight) >= self._max_in_flight:
            self._parts.append(self._in_flight.popleft().result())
        number = self._next_number
        self._next_number += 1
        self._in_flight.append(self._pool.submit(self._upload_part, number, data))

    def _upload_part(self, number: int, data: bytes) -> dict[str, Any]:
        part = self._client.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=str(self._upload_id),
            PartNumber=number,
            Body=data,
        )
        return {"ETag": part["ETag"], "PartNumber": number}

    def _drain(self) -> None:
        """Wait for every part in flight (re-raising the first upload error)."""
        try:
            while self._in_flight:
                self._parts.append(self._in_flight.popleft().result())
        finally:
            for pending in self._in_flight:
                pending.cancel()
            self._in_flight.clear()

    def finish(self) -> None:
        """Upload the rest and complete the upload (or ``PutObject`` if it fits one part)."""
        if self._upload_id is None:
            self._client.put_object(
                Bucket=self._bucket,
                Key=self._key,
                Body=bytes(self._buffer),
                ContentType=self._content_type,
            )
        else:
            if self._buffer:
                self._submit_part(bytes(self._buffer))
            self._drain()
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": sorted(self._parts, key=lambda p: p["PartNumber"])},
            )
        self._buffer.clear()

    def abort(self) -> None:
        """Abort the multipart upload (no parts are billed or left behind)."""
        self._buffer.clear()
        with contextlib.suppress(Exception):
            self._drain()  # parts still uploading would outlive the abort
        if self._upload_id is not None:
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id
            )
            self._upload_id = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        super().close()


class S3ObjectStore:
    """:class:`findme.ports.ObjectStore` over one S3 bucket (``Settings.bucket``).

    Errors: a missing key raises :class:`NotFoundError`; any other S3 failure
    :class:`DependencyError` (with the S3 error code in ``details``).
    """

    def __init__(self, settings: Settings, *, part_bytes: int = DEFAULT_PART_BYTES) -> None:
        if part_bytes < MIN_PART_BYTES:
            raise ValueError(f"part_bytes must be >= {MIN_PART_BYTES} (S3 minimum part size)")
        self._settings = settings
        self.bucket = settings.bucket
        self._part_bytes = part_bytes
        self._client = build_client(settings)

    def _fail(self, exc: Exception, what: str, key: str) -> DependencyError:
        code = _error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        return DependencyError(f"S3 {what} failed", key=key, s3_code=code)

    def put(
        self,
        key: str,
        data: bytes,
        content_type: str,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """Write ``data`` (bytes) at ``key`` with a content type and user metadata."""
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                Metadata=metadata or {},
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "put", key) from exc

    def _get_object(self, key: str) -> Any:
        try:
            return self._client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND:
                raise NotFoundError("object not found", key=key) from exc
            raise self._fail(exc, "get", key) from exc
        except BotoCoreError as exc:
            raise self._fail(exc, "get", key) from exc

    def get(self, key: str) -> bytes:
        """The object's bytes. Raises NotFoundError."""
        body = self._get_object(key)["Body"]
        try:
            data: bytes = body.read()
        except BotoCoreError as exc:
            raise self._fail(exc, "get", key) from exc
        finally:
            body.close()
        return data

    def head(self, key: str) -> ObjectInfo | None:
        """Size (bytes), content type, last-modified time and metadata; ``None`` if missing."""
        try:
            meta = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND:
                return None
            raise self._fail(exc, "head", key) from exc
        except BotoCoreError as exc:
            raise self._fail(exc, "head", key) from exc
        return ObjectInfo(
            key=key,
            size_bytes=int(meta["ContentLength"]),
            content_type=meta.get("ContentType"),
            last_modified=meta.get("LastModified"),
            metadata=dict(meta.get("Metadata", {})),
        )

    def delete(self, keys: Sequence[str]) -> None:
        """Delete keys (missing keys are fine) with DeleteObjects, 1,000 per request."""
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), DELETE_BATCH):
            batch = unique[start : start + DELETE_BATCH]
            try:
                result = self._client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                )
            except (ClientError, BotoCoreError) as exc:
                raise self._fail(exc, "delete", batch[0]) from exc
            errors = result.get("Errors", [])
            if errors:
                raise DependencyError(
                    "S3 delete failed", key=errors[0].get("Key"), s3_code=errors[0].get("Code")
                )

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under ``prefix`` in key order (ListObjectsV2, paginated)."""
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    yield ObjectInfo(
                        key=obj["Key"],
                        size_bytes=int(obj["Size"]),
                        last_modified=obj.get("LastModified"),
                    )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "list", prefix) from exc

    def open_read(self, key: str) -> IO[bytes]:
        """A buffered streaming reader (1 MiB buffer); never loads the object whole.

        Raises:
            NotFoundError: no such key.
        """
        body = self._get_object(key)["Body"]
        return io.BufferedReader(_BodyReader(body), buffer_size=1024 * 1024)

    def open_multipart_writer(
        self, key: str, content_type: str
    ) -> AbstractContextManager[IO[bytes]]:
        """A write-only stream uploaded as multipart parts of ``part_bytes`` (>= 5 MiB).

        The upload completes when the ``with`` block exits normally and is aborted (no
        object, no orphan parts) when it raises. Memory use is about one part.
        """
        return self._multipart(key, content_type)

    @contextmanager
    def _multipart(self, key: str, content_type: str) -> Iterator[IO[bytes]]:
        writer = _MultipartWriter(self._client, self.bucket, key, content_type, self._part_bytes)
        try:
            yield writer  # type: ignore[misc]
            writer.finish()
        except BaseException as exc:
            # if the abort fails too, the bucket's abort-incomplete-multipart rule cleans up
            with contextlib.suppress(ClientError, BotoCoreError):
                writer.abort()
            if isinstance(exc, (ClientError, BotoCoreError)):
                raise self._fail(exc, "multipart upload", key) from exc
            raise
        finally:
            writer.close()

    def presigned_post(
        self,
        key: str,
        *,
        content_type_prefix: str = "image/",
        max_bytes: int,
        expires_s: int,
        metadata: dict[str, str] | None = None,
    ) -> PresignedPost:
        """A presigned POST form for one upload.

        Policy conditions (AWS "Creating a POST policy"): ``key`` equals ``key`` exactly
        (so the upload cannot leave its prefix); ``Content-Type`` starts with
        ``content_type_prefix``; ``content-length-range`` is ``[1, max_bytes]`` bytes; each
        metadata entry is fixed as an ``x-amz-meta-*`` field. The client adds the
        ``Content-Type`` field and the ``file`` (last).

        Args:
            key: object key, e.g. ``originals/{group_id}/{image_id}``.
            max_bytes: largest accepted file, bytes.
            expires_s: lifetime of the form, seconds.
        """
        if max_bytes < 1 or expires_s < 1:
            raise InvalidInputError("max_bytes and expires_s must be positive")
        if not key or key.endswith("/"):
            raise InvalidInputError("presigned POST needs a full object key", key=key)
        fields: dict[str, str] = {}
        conditions: list[Any] = [
            ["starts-with", "$Content-Type", content_type_prefix],
            ["content-length-range", 1, max_bytes],
        ]  # boto3 adds {"bucket": ...} and {"key": key} (exact) itself
        for name, value in (metadata or {}).items():
            field = f"x-amz-meta-{name}"
            fields[field] = value
            conditions.append({field: value})
        try:
            post = self._client.generate_presigned_post(
                Bucket=self.bucket,
                Key=key,
                Fields=fields,
                Conditions=conditions,
                ExpiresIn=expires_s,
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "presign post", key) from exc
        return PresignedPost(
            url=post["url"],
            fields={k: str(v) for k, v in post["fields"].items()},
            key=key,
            expires=datetime.now(UTC) + timedelta(seconds=expires_s),
        )

    def presigned_get(
        self, key: str, *, expires_s: int, download_name: str | None = None
    ) -> tuple[str, datetime]:
        """A presigned GET URL valid ``expires_s`` seconds, and its expiry time (UTC).

        ``download_name`` sets ``Content-Disposition: attachment; filename="..."``.
        """
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if download_name:
            safe = download_name.replace('"', "").replace("\\", "")
            params["ResponseContentDisposition"] = f'attachment; filename="{safe}"'
        try:
            url = self._client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=expires_s
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "presign get", key) from exc
        return url, datetime.now(UTC) + timedelta(seconds=expires_s)
