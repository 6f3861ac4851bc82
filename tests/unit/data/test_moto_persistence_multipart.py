"""Durable local S3 and the ZIP's multipart uploads: parts are not waited for, objects are.

The ZIP builder streams an archive as 8 MiB multipart parts. A part is answered without a
snapshot (nothing resumes an upload after a crash), and a completed object is saved once,
without its parts (:mod:`findme.local.persistence`).
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from findme.local.persistence import BLOB_DIR, DurabilityMiddleware, MotoState, is_upload_part
from moto import mock_aws

REGION = "us-east-1"
PART = 5 * 1024 * 1024


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.mark.parametrize(
    ("method", "query", "expected"),
    [
        ("PUT", "partNumber=3&uploadId=abc", True),
        ("PUT", "uploadId=abc&partNumber=3", True),
        ("PUT", "", False),  # PutObject
        ("POST", "uploadId=abc", False),  # CompleteMultipartUpload
        ("POST", "uploads", False),  # CreateMultipartUpload
        ("DELETE", "uploadId=abc", False),  # AbortMultipartUpload
        ("PUT", "partNumberX=1&uploadId=abc", False),
    ],
)
def test_which_requests_are_upload_parts(method: str, query: str, expected: bool) -> None:
    assert is_upload_part({"REQUEST_METHOD": method, "QUERY_STRING": query}) is expected


def test_an_upload_part_is_answered_without_waiting_for_a_snapshot(tmp_path: Path) -> None:
    # Given a middleware whose snapshot writer never runs
    state = MotoState(tmp_path)
    statuses: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b""]

    middleware = DurabilityMiddleware(app, state)
    environ = {
        "REQUEST_METHOD": "PUT",
        "PATH_INFO": "/bucket/archives/j.zip",
        "QUERY_STRING": "partNumber=1&uploadId=u1",
    }
    done = threading.Event()

    def request() -> None:
        list(middleware(environ, lambda status, headers: statuses.append(status)))
        done.set()

    with mock_aws():
        threading.Thread(target=request, daemon=True).start()
        # Then the part is answered at once (a PutObject would wait for the snapshot)
        assert done.wait(5)
    assert statuses == ["200 OK"]
    assert state.snapshots == 0


def test_a_completed_multipart_object_is_saved_once_and_restored(tmp_path: Path) -> None:
    bucket = f"zip-{uuid.uuid4().hex[:10]}"
    parts = [os.urandom(PART), os.urandom(PART), b"tail"]
    with mock_aws():
        # Given a bucket with a 3-part object completed while moto's state is kept
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=bucket)
        upload = s3.create_multipart_upload(Bucket=bucket, Key="archives/j.zip")["UploadId"]
        etags = [
            s3.upload_part(
                Bucket=bucket, Key="archives/j.zip", UploadId=upload, PartNumber=n, Body=body
            )["ETag"]
            for n, body in enumerate(parts, start=1)
        ]
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="archives/j.zip",
            UploadId=upload,
            MultipartUpload={
                "Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, start=1)]
            },
        )
        # When a snapshot is written
        MotoState(tmp_path).save()
    # Then one blob holds the object's bytes, and no part was written on its own (other tests
    # may have left objects in the same in-process moto: only sizes of ours are looked at)
    sizes = [b.stat().st_size for b in (tmp_path / BLOB_DIR).iterdir()]
    assert sizes.count(sum(len(p) for p in parts)) == 1
    assert PART not in sizes
    with mock_aws():
        # And a restart restores the whole object
        assert MotoState(tmp_path).restore()
        body = boto3.client("s3", region_name=REGION).get_object(
            Bucket=bucket, Key="archives/j.zip"
        )["Body"]
        assert body.read() == b"".join(parts)
