"""The local stack's S3 POST policy check (findme.local.moto_server), on forms boto3 signs."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config
from findme.adapters.s3 import S3ObjectStore
from findme.config import Settings
from findme.local.moto_server import PolicyError, check_post_policy

SECRET = "test"


def _form(
    max_bytes: int = 100, key: str = "originals/g/i.jpg", signature: str = "s3v4"
) -> dict[str, str]:
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key=SECRET,
        endpoint_url="http://127.0.0.1:1",
        config=Config(signature_version=signature),
    )
    post = client.generate_presigned_post(
        Bucket="b",
        Key=key,
        Conditions=[
            ["starts-with", "$Content-Type", "image/"],
            ["content-length-range", 1, max_bytes],
        ],
        ExpiresIn=60,
    )
    return {**post["fields"], "Content-Type": "image/jpeg"}


def _code(form: dict[str, str], size: int = 10, bucket: str = "b", **kw: object) -> str | None:
    try:
        check_post_policy(form, size, bucket, SECRET, **kw)  # type: ignore[arg-type]
    except PolicyError as error:
        return error.code
    return None


@pytest.mark.parametrize("signature", ["s3v4", "s3"])
def test_a_conforming_form_passes(signature: str) -> None:
    assert _code(_form(signature=signature)) is None
    assert _code({**_form(signature=signature), "key": "originals/x.jpg"}) == "AccessDenied"


@pytest.mark.parametrize(
    ("change", "size", "expected"),
    [
        ({}, 101, "EntityTooLarge"),
        ({}, 0, "EntityTooSmall"),
        ({"key": "originals/other/i.jpg"}, 10, "AccessDenied"),
        ({"Content-Type": "text/html"}, 10, "AccessDenied"),
        ({"x-amz-meta-extra": "1"}, 10, "AccessDenied"),
        ({"x-amz-signature": "0" * 64}, 10, "SignatureDoesNotMatch"),
    ],
)
def test_violations_are_refused_with_s3_codes(
    change: dict[str, str], size: int, expected: str
) -> None:
    assert _code({**_form(), **change}, size) == expected


def test_wrong_bucket_and_expiry_are_refused() -> None:
    form = _form()
    assert _code(form, bucket="other") == "AccessDenied"
    assert _code(form, now=datetime.now(UTC) + timedelta(minutes=2)) == "AccessDenied"


def test_x_ignore_fields_and_missing_policy() -> None:
    assert _code({**_form(), "x-ignore-tracking": "1"}) is None
    form = _form()
    del form["policy"]
    assert _code(form) == "AccessDenied"


def test_a_secret_other_than_the_stacks_fails_the_signature() -> None:
    form = _form()
    with pytest.raises(PolicyError) as info:
        check_post_policy(form, 10, "b", "another-secret")
    assert info.value.code == "SignatureDoesNotMatch"
    policy = json.loads(base64.b64decode(form["policy"]))
    assert {"key": "originals/g/i.jpg"} in policy["conditions"]


def test_findmes_own_upload_form_is_held_to_its_size_limit(
    objects: S3ObjectStore, aws: Settings
) -> None:
    """Why the stack's policy layer exists: moto alone stores any POST whatever its policy;
    the check refuses a file over the limit of a form FindMe made, and passes one within it."""
    # Given an upload form of FindMe's own (S3ObjectStore.presigned_post) for at most 10 bytes,
    # signed with the (mock) credentials the store's client resolved when it was built
    post = objects.presigned_post("originals/g-1/i-1.jpg", max_bytes=10, expires_s=60)
    form = {**post.fields, "Content-Type": "image/jpeg"}
    secret = objects._client._request_signer._credentials.secret_key

    def code(size: int) -> str | None:
        try:
            check_post_policy(form, size, aws.bucket, secret)
        except PolicyError as error:
            return error.code
        return None

    # When an 11-byte file is posted with it, then S3's refusal
    assert code(11) == "EntityTooLarge"
    # And a 10-byte file passes, an empty one does not
    assert code(10) is None
    assert code(0) == "EntityTooSmall"
