"""Real HTTP uploads with presigned POST forms to the local stack's S3.

moto alone stores any form POST without reading its policy; the local stack's moto server
(``findme.local.moto_server``) checks the policy as S3 does, so these refusals are real HTTP
responses (why that layer exists, moto alone storing any POST: tests/unit/data/
test_post_policy.py).

The uploads go to a bucket of their own, provisioned by the same code as the stack's
(lifecycle rules, ``originals/`` -> queue notification), whose queue no digest worker
polls: other tests' workers never see these fake photos, and this module sees every event.
"""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import unquote_plus

import boto3
import pytest
import requests
from findme.adapters.s3 import S3ObjectStore
from findme.config import Settings
from findme.local.provision import create_bucket, create_queues
from findme.local.stack import StackHandle
from findme.ports import PresignedPost

pytestmark = pytest.mark.integration

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 2000


def _upload(
    post: PresignedPost,
    data: bytes,
    content_type: str = "image/jpeg",
    **overrides: str,
) -> requests.Response:
    fields = {**post.fields, "Content-Type": content_type, **overrides}
    return requests.post(
        post.url, data=fields, files={"file": ("photo.jpg", data, content_type)}, timeout=10
    )


def _error_code(response: requests.Response) -> str:
    text = response.text
    return text.split("<Code>")[1].split("</Code>")[0] if "<Code>" in text else text


@pytest.fixture(scope="module")
def upload_settings(local_stack: StackHandle) -> Settings:
    """Stack settings for a fresh bucket and digest queue (provisioned like the stack's)."""
    suffix = uuid.uuid4().hex[:12]
    settings = local_stack.settings(bucket=f"uploads-{suffix}")
    queue_url, queue_arn, _ = create_queues(settings, name=f"uploads-{suffix}")
    create_bucket(settings, queue_arn)
    return settings.model_copy(update={"digest_queue_url": queue_url})


@pytest.fixture
def objects(upload_settings: Settings) -> S3ObjectStore:
    return S3ObjectStore(upload_settings)


@pytest.fixture
def form(objects: S3ObjectStore, fresh_group_id: str) -> PresignedPost:
    key = f"originals/{fresh_group_id}/{uuid.uuid4()}.jpg"
    return objects.presigned_post(
        key, max_bytes=10_000, expires_s=300, metadata={"uploaded-by": "u-1"}
    )


def test_upload_within_the_policy_is_stored(form: PresignedPost, objects: S3ObjectStore) -> None:
    # When a JPEG under the limit is posted to the form
    response = _upload(form, JPEG)
    # Then S3 answers 204 and holds the bytes, content type and metadata
    assert response.status_code == 204, response.text
    info = objects.head(form.key)
    assert info is not None
    assert (info.size_bytes, info.content_type) == (len(JPEG), "image/jpeg")
    assert info.metadata == {"uploaded-by": "u-1"}
    assert objects.get(form.key) == JPEG


def test_oversize_upload_is_rejected(form: PresignedPost, objects: S3ObjectStore) -> None:
    response = _upload(form, JPEG + b"0" * 10_000)
    assert response.status_code == 400
    assert _error_code(response) == "EntityTooLarge"
    assert objects.head(form.key) is None


def test_wrong_key_prefix_is_rejected(
    form: PresignedPost, objects: S3ObjectStore, fresh_group_id: str
) -> None:
    # When the signed form is reused for a key outside its exact key (another prefix)
    other = f"originals/{uuid.uuid4()}/{uuid.uuid4()}.jpg"
    response = _upload(form, JPEG, key=other)
    # Then S3 refuses it and nothing is stored there
    assert response.status_code == 403
    assert _error_code(response) == "AccessDenied"
    assert objects.head(other) is None


def test_non_image_content_type_is_rejected(form: PresignedPost, objects: S3ObjectStore) -> None:
    response = _upload(form, b"#!/bin/sh\n", content_type="text/x-shellscript")
    assert response.status_code == 403
    assert objects.head(form.key) is None


def test_tampered_policy_is_rejected(form: PresignedPost, objects: S3ObjectStore) -> None:
    import base64

    policy = json.loads(base64.b64decode(form.fields["policy"]))
    for condition in policy["conditions"]:
        if isinstance(condition, list) and condition[0] == "content-length-range":
            condition[2] = 10**9
    forged = base64.b64encode(json.dumps(policy).encode()).decode()
    response = _upload(form, JPEG, policy=forged)
    assert response.status_code == 403
    assert _error_code(response) == "SignatureDoesNotMatch"


def test_expired_form_is_rejected(objects: S3ObjectStore, fresh_group_id: str) -> None:
    post = objects.presigned_post(
        f"originals/{fresh_group_id}/{uuid.uuid4()}.jpg", max_bytes=10_000, expires_s=1
    )
    time.sleep(1.5)
    response = _upload(post, JPEG)
    assert response.status_code == 403
    assert objects.head(post.key) is None


def test_presigned_get_serves_the_object(objects: S3ObjectStore, fresh_group_id: str) -> None:
    key = f"originals/{fresh_group_id}/x.jpg"
    objects.put(key, JPEG, "image/jpeg")
    url, _ = objects.presigned_get(key, expires_s=60, download_name="party.jpg")
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content == JPEG
    assert response.headers["Content-Disposition"] == 'attachment; filename="party.jpg"'


def test_upload_to_originals_notifies_the_digest_queue(
    form: PresignedPost, upload_settings: Settings
) -> None:
    # When a photo lands under originals/ through a form upload
    assert _upload(form, JPEG).status_code == 204
    # Then an ObjectCreated event for its key reaches the bucket's queue
    sqs = boto3.client(
        "sqs", region_name="us-east-1", endpoint_url=upload_settings.aws_endpoint_url
    )
    keys: list[str] = []
    deadline = time.monotonic() + 10
    while form.key not in keys and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=upload_settings.digest_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for message in messages:
            for record in json.loads(message["Body"]).get("Records", []):
                if record["eventName"].startswith("ObjectCreated"):
                    # event keys are URL-encoded (AWS: "+" for spaces; moto also "%2F")
                    keys.append(unquote_plus(record["s3"]["object"]["key"]))
    assert form.key in keys


def test_bucket_lifecycle_rules(upload_settings: Settings) -> None:
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=upload_settings.aws_endpoint_url)
    rules = {
        r["ID"]: r
        for r in s3.get_bucket_lifecycle_configuration(Bucket=upload_settings.bucket)["Rules"]
    }
    assert rules["expire-archives"]["Filter"] == {"Prefix": "archives/"}
    assert rules["expire-archives"]["Expiration"] == {"Days": 7}
    assert rules["abort-incomplete-multipart"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }
