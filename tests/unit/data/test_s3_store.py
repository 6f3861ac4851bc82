"""S3ObjectStore against moto in-process: objects, streaming, multipart, presigned URLs."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import boto3
import pytest
from findme.adapters.s3 import MIN_PART_BYTES, S3ObjectStore
from findme.config import Settings
from findme.errors import InvalidInputError, NotFoundError

MIB = 1024 * 1024


def test_put_get_head_list_delete(objects: S3ObjectStore) -> None:
    # Given three objects under one prefix and one elsewhere
    for i in range(3):
        objects.put(f"originals/g1/img{i}.jpg", b"x" * (i + 1), "image/jpeg", {"uploaded-by": "u1"})
    objects.put("faces/g1/f.jpg", b"face", "image/jpeg")
    # Then they read back, with their sizes and metadata
    assert objects.get("originals/g1/img2.jpg") == b"xxx"
    info = objects.head("originals/g1/img0.jpg")
    assert info is not None
    assert (info.size_bytes, info.content_type, info.metadata) == (
        1,
        "image/jpeg",
        {"uploaded-by": "u1"},
    )
    assert [o.key for o in objects.list("originals/g1/")] == [
        f"originals/g1/img{i}.jpg" for i in range(3)
    ]
    # When some are deleted (with a missing key among them)
    objects.delete(["originals/g1/img0.jpg", "originals/g1/missing.jpg"])
    # Then they are gone and reads say so
    assert objects.head("originals/g1/img0.jpg") is None
    with pytest.raises(NotFoundError):
        objects.get("originals/g1/img0.jpg")
    with pytest.raises(NotFoundError):
        objects.open_read("originals/g1/img0.jpg")


def test_delete_batches_over_a_thousand_keys(
    objects: S3ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 1,005 keys, two of them existing, and a spy on DeleteObjects
    keys = [f"faces/many/{i:04d}.jpg" for i in range(1005)]
    objects.put(keys[0], b"", "image/jpeg")
    objects.put(keys[-1], b"", "image/jpeg")
    client = objects._client
    batches: list[int] = []
    real = client.delete_objects

    def spy(**kwargs: Any) -> Any:
        batches.append(len(kwargs["Delete"]["Objects"]))
        return real(**kwargs)

    monkeypatch.setattr(client, "delete_objects", spy)
    # When all are deleted
    objects.delete(keys)
    # Then two requests (S3's limit is 1,000 keys) removed everything
    assert batches == [1000, 5]
    assert list(objects.list("faces/many/")) == []


def test_open_read_streams(objects: S3ObjectStore) -> None:
    data = os.urandom(3 * MIB + 17)
    objects.put("archives/stream.bin", data, "application/octet-stream")
    with objects.open_read("archives/stream.bin") as fh:
        chunks = iter(lambda: fh.read(MIB), b"")
        assert b"".join(chunks) == data


def test_multipart_writer_uploads_parts(objects: S3ObjectStore) -> None:
    # Given 12 MiB written in odd-sized chunks through 5 MiB parts
    data = os.urandom(12 * MIB + 3)
    with objects.open_multipart_writer("archives/big.zip", "application/zip") as fh:
        for start in range(0, len(data), 700_001):
            fh.write(data[start : start + 700_001])
    # Then the object is whole, with its content type, made of 3 parts
    assert objects.get("archives/big.zip") == data
    head = boto3.client("s3", region_name="us-east-1").head_object(
        Bucket=objects.bucket, Key="archives/big.zip"
    )
    assert head["ContentType"] == "application/zip"
    assert head["ETag"].strip('"').endswith("-3")


def test_multipart_writer_small_object_is_one_put(objects: S3ObjectStore) -> None:
    with objects.open_multipart_writer("archives/small.zip", "application/zip") as fh:
        fh.write(b"PK tiny")
    assert objects.get("archives/small.zip") == b"PK tiny"


def test_multipart_writer_aborts_on_exception(objects: S3ObjectStore) -> None:
    # Given a writer that fails after one full part was uploaded
    client = boto3.client("s3", region_name="us-east-1")

    def write_then_fail() -> None:
        with objects.open_multipart_writer("archives/broken.zip", "application/zip") as fh:
            fh.write(os.urandom(6 * MIB))
            raise RuntimeError("zip failed")

    with pytest.raises(RuntimeError, match="zip failed"):
        write_then_fail()
    # Then no object exists and no multipart upload is left open
    assert objects.head("archives/broken.zip") is None
    uploads = client.list_multipart_uploads(Bucket=objects.bucket).get("Uploads", [])
    assert [u["Key"] for u in uploads if u["Key"] == "archives/broken.zip"] == []


def test_part_size_below_s3_minimum_is_refused(aws: Settings) -> None:
    with pytest.raises(ValueError, match="part_bytes"):
        S3ObjectStore(aws, part_bytes=MIN_PART_BYTES - 1)


def test_presigned_post_policy_conditions(objects: S3ObjectStore) -> None:
    # When a form is made for one key
    post = objects.presigned_post(
        "originals/g1/abc.jpg", max_bytes=1000, expires_s=600, metadata={"uploaded-by": "u1"}
    )
    # Then its policy fixes the key exactly, the content type prefix and the size range
    policy = json.loads(base64.b64decode(post.fields["policy"]))
    conditions = policy["conditions"]
    assert {"key": "originals/g1/abc.jpg"} in conditions
    assert {"bucket": objects.bucket} in conditions
    assert ["starts-with", "$Content-Type", "image/"] in conditions
    assert ["content-length-range", 1, 1000] in conditions
    assert {"x-amz-meta-uploaded-by": "u1"} in conditions
    assert post.fields["key"] == "originals/g1/abc.jpg"
    assert post.fields["x-amz-meta-uploaded-by"] == "u1"
    with pytest.raises(InvalidInputError):
        objects.presigned_post("originals/g1/", max_bytes=10, expires_s=60)


def test_presigned_get_url(objects: S3ObjectStore) -> None:
    url, expires = objects.presigned_get(
        "originals/g1/img1.jpg", expires_s=120, download_name='my "photo".jpg'
    )
    assert "X-Amz-Expires=120" in url
    assert "response-content-disposition=attachment" in url
    assert expires.tzinfo is not None
