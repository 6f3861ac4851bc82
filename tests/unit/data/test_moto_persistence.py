"""Durable moto state (findme.local.persistence): snapshot, crash, restore, in one process.

moto's backends are process globals and a snapshot takes all of them, so each test opens its
own ``mock_aws`` from moto's empty state: no other mock may be open around it
(:func:`_no_mock_open`; the unit tier's ``aws`` fixture is module-scoped for that reason). A
"crash" is simulated by deleting this test's own bucket, queue and secret after the snapshot;
the restore must bring them back.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from findme.local.persistence import (
    BLOB_DIR,
    RELEASE_PATH,
    DurabilityMiddleware,
    MotoState,
    changes_state,
)
from moto import mock_aws
from moto.core.models import MockAWS

REGION = "us-east-1"


def _clients() -> dict[str, Any]:
    return {
        name: boto3.client(name, region_name=REGION) for name in ("s3", "sqs", "secretsmanager")
    }


def _forget(c: dict[str, Any], names: dict[str, str]) -> None:
    """What a crash of an in-memory moto loses: this test's bucket, queue and secret."""
    bucket = names["bucket"]
    for page in c["s3"].get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            c["s3"].delete_object(Bucket=bucket, Key=item["Key"])
    c["s3"].delete_bucket(Bucket=bucket)
    url = c["sqs"].get_queue_url(QueueName=names["queue"])["QueueUrl"]
    c["sqs"].delete_queue(QueueUrl=url)
    c["secretsmanager"].delete_secret(SecretId=names["secret"], ForceDeleteWithoutRecovery=True)


def _provision(c: dict[str, Any], names: dict[str, str]) -> str:
    c["s3"].create_bucket(Bucket=names["bucket"])
    queue_url: str = c["sqs"].create_queue(QueueName=names["queue"])["QueueUrl"]
    arn = c["sqs"].get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    c["s3"].put_bucket_notification_configuration(
        Bucket=names["bucket"],
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": arn["Attributes"]["QueueArn"], "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    c["secretsmanager"].create_secret(Name=names["secret"], SecretString="s3cr3t")
    return queue_url


@pytest.fixture
def names() -> dict[str, str]:
    """Names of this test's own bucket, queue and secret (other tests may share the moto)."""
    suffix = uuid.uuid4().hex[:10]
    return {"bucket": f"media-{suffix}", "queue": f"digest-{suffix}", "secret": f"jwt-{suffix}"}


@pytest.fixture(autouse=True)
def _no_mock_open() -> None:
    """A ``mock_aws`` already open (another module's fixture) would make this test's nested
    one share its state (and snapshot it): fail plainly rather than on someone else's data."""
    assert MockAWS._nested_count == 0, "a mock_aws is still open around this test"


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def test_objects_messages_and_secret_survive_a_restart(
    tmp_path: Path, names: dict[str, str]
) -> None:
    bucket = names["bucket"]
    bodies = {f"originals/g/{i}.jpg": os.urandom(1000 + i) for i in range(5)}
    with mock_aws():
        c = _clients()
        queue_url = _provision(c, names)
        for key, body in bodies.items():
            c["s3"].put_object(Bucket=bucket, Key=key, Body=body)
        # one message is in flight when the "crash" comes: its worker is gone
        received = c["sqs"].receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=1, VisibilityTimeout=300
        )
        assert len(received["Messages"]) == 1
        state = MotoState(tmp_path)
        state.save()
        _forget(c, names)
        assert bucket not in {b["Name"] for b in c["s3"].list_buckets()["Buckets"]}
        assert MotoState(tmp_path).restore()
        for key, body in bodies.items():
            assert c["s3"].get_object(Bucket=bucket, Key=key)["Body"].read() == body
        # every notification is still queued, the in-flight one visible again at once
        messages = []
        for _ in range(5):
            batch = c["sqs"].receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
            messages += batch.get("Messages", [])
        events = [json.loads(m["Body"]) for m in messages]
        keys = {unquote(e["Records"][0]["s3"]["object"]["key"]) for e in events if "Records" in e}
        assert keys == set(bodies)
        assert (
            c["secretsmanager"].get_secret_value(SecretId=names["secret"])["SecretString"]
            == "s3cr3t"
        )
        # new writes after a restore work as before (notifications included)
        c["s3"].put_object(Bucket=bucket, Key="originals/g/new.jpg", Body=b"x")
        batch = c["sqs"].receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        event = json.loads(batch["Messages"][0]["Body"])
        assert len(batch["Messages"]) == 1
        assert unquote(event["Records"][0]["s3"]["object"]["key"]) == "originals/g/new.jpg"


def test_each_object_is_written_once_and_deleted_blobs_are_collected(
    tmp_path: Path, names: dict[str, str]
) -> None:
    bucket = names["bucket"]
    with mock_aws():
        c = _clients()
        _provision(c, names)
        c["s3"].put_object(Bucket=bucket, Key="a", Body=b"a" * 100)
        c["s3"].put_object(Bucket=bucket, Key="b", Body=b"b" * 100)
        state = MotoState(tmp_path)
        state.save()
        first = {p.name: p.stat().st_mtime_ns for p in (tmp_path / BLOB_DIR).iterdir()}
        assert len(first) >= 2
        c["s3"].delete_object(Bucket=bucket, Key="a")
        state.save()
        second = {p.name: p.stat().st_mtime_ns for p in (tmp_path / BLOB_DIR).iterdir()}
        assert len(second) == len(first) - 1  # a's blob was collected
        assert second == {k: v for k, v in first.items() if k in second}  # none rewritten
        _forget(c, names)
        restored = MotoState(tmp_path)
        assert restored.restore()
        # a snapshot right after a restore rewrites no object
        restored.save()
        assert {p.name for p in (tmp_path / BLOB_DIR).iterdir()} == set(second)
        assert c["s3"].get_object(Bucket=bucket, Key="b")["Body"].read() == b"b" * 100


def test_no_snapshot_means_a_fresh_start(tmp_path: Path) -> None:
    with mock_aws():
        assert not MotoState(tmp_path / "empty").restore()


@pytest.mark.parametrize(
    ("method", "target", "expected"),
    [
        ("GET", "", False),
        ("HEAD", "", False),
        ("PUT", "", True),
        ("POST", "", True),
        ("DELETE", "", True),
        ("POST", "AmazonSQS.SendMessage", True),
        ("POST", "AmazonSQS.GetQueueAttributes", False),
        ("POST", "secretsmanager.GetSecretValue", False),
        ("POST", "AmazonSQS.ListQueues", False),
    ],
)
def test_which_requests_must_be_durable(method: str, target: str, expected: bool) -> None:
    environ = {"REQUEST_METHOD": method, "HTTP_X_AMZ_TARGET": target}
    assert changes_state(environ) is expected


def test_a_mutation_is_answered_only_after_its_snapshot(tmp_path: Path) -> None:
    # Given a middleware whose snapshot writer has not started yet
    state = MotoState(tmp_path)
    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        calls.append("app")
        return [b"ok"]

    middleware = DurabilityMiddleware(app, state)
    answered = threading.Event()
    statuses: list[str] = []

    def request() -> None:
        environ = {"REQUEST_METHOD": "PUT", "PATH_INFO": "/bucket/key"}
        list(middleware(environ, lambda status, headers: statuses.append(status)))
        answered.set()

    with mock_aws():
        thread = threading.Thread(target=request)
        thread.start()
        # Then the request ran but is not answered before the snapshot is written
        assert not answered.wait(0.5)
        assert calls == ["app"]
        state.start()
        assert answered.wait(10)
        thread.join()
        state.close()
    assert statuses == ["200 OK"]
    assert (tmp_path / "moto-state.pickle").is_file()


def test_release_route_makes_in_flight_messages_visible(tmp_path: Path) -> None:
    with mock_aws():
        c = _clients()
        queue_url = c["sqs"].create_queue(QueueName="q")["QueueUrl"]
        c["sqs"].send_message(QueueUrl=queue_url, MessageBody="work")
        c["sqs"].receive_message(QueueUrl=queue_url, VisibilityTimeout=300)
        assert "Messages" not in c["sqs"].receive_message(QueueUrl=queue_url)
        state = MotoState(tmp_path)
        state.start()
        middleware = DurabilityMiddleware(lambda e, s: [], state)
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": RELEASE_PATH}
        body = b"".join(middleware(environ, lambda status, headers: None))
        state.close()
        assert json.loads(body)["released"] >= 1
        again = c["sqs"].receive_message(QueueUrl=queue_url)
        assert [m["Body"] for m in again["Messages"]] == ["work"]


def _forget_provisioned(settings: Any, secret_id: str) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    for item in s3.list_objects_v2(Bucket=settings.bucket).get("Contents", []):
        s3.delete_object(Bucket=settings.bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=settings.bucket)
    sm = boto3.client("secretsmanager", region_name=REGION)
    sm.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)


def test_provisioning_a_restored_stack_keeps_its_objects_and_secret(
    tmp_path: Path, names: dict[str, str]
) -> None:
    bucket = names["bucket"]
    # moto empties an existing us-east-1 bucket on CreateBucket if it does not know the bucket
    # exists: the restore must bring back S3's bucket index, and provisioning must not recreate
    from findme.config import Settings
    from findme.local.provision import provision_objects

    settings = Settings(
        stage="local",
        aws_region=REGION,
        bucket=bucket,
        jwt_secret_id=names["secret"],
    )
    with mock_aws():
        first = provision_objects(settings)
        boto3.client("s3", region_name=REGION).put_object(
            Bucket=bucket, Key="originals/g/i.jpg", Body=b"photo"
        )
        sm = boto3.client("secretsmanager", region_name=REGION)
        secret = sm.get_secret_value(SecretId=first.jwt_secret_id)["SecretString"]
        MotoState(tmp_path).save()
        _forget_provisioned(settings, first.jwt_secret_id)
        assert MotoState(tmp_path).restore()
        provision_objects(settings)  # what every start of the stack does
        s3 = boto3.client("s3", region_name=REGION)
        assert s3.get_object(Bucket=bucket, Key="originals/g/i.jpg")["Body"].read() == b"photo"
        sm = boto3.client("secretsmanager", region_name=REGION)
        assert sm.get_secret_value(SecretId=first.jwt_secret_id)["SecretString"] == secret
