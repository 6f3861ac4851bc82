"""The digest handler's event handling: SQS partial batch responses and Distributed Map batches,
one photo after another and ``digest_workers`` at a time.

The digest service is replaced by a stub that succeeds, fails permanently (returns ``failed``,
as for an undecodable photo) or raises (a transient error) depending on the key.
"""

from __future__ import annotations

import json
import threading
import time
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from findme.config import Settings
from findme.local.orchestrator import LocalContext, handler_module, invoke
from findme.services.digest import (
    DigestBatchError,
    DigestOutcome,
    DigestStatus,
    map_concurrently,
)


def sqs_record(message_id: str, body: str | dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:digest",
        "awsRegion": "us-east-1",
    }


def created(key: str, bucket: str = "findme-media") -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 10}},
            }
        ]
    }


@pytest.fixture
def digest_module(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, list[tuple[str, bool]]]:
    """The digest handler module with a stub service; returns (module, calls)."""
    module = handler_module("digest")
    calls: list[tuple[str, bool]] = []

    def fake_digest(key: str, deps: Any, *, size_bytes: int | None, force: bool) -> DigestOutcome:
        calls.append((key, force))
        if "boom" in key:
            raise RuntimeError("DynamoDB throttled")
        if "corrupt" in key:
            return DigestOutcome(key=key, status=DigestStatus.FAILED, reason="invalid_image: x")
        return DigestOutcome(key=key, status=DigestStatus.PROCESSED, face_count=1)

    stub_deps = SimpleNamespace(settings=Settings(bucket="findme-media"), metadata=_Progress())
    monkeypatch.setattr(module, "deps", lambda: stub_deps)
    monkeypatch.setattr(module, "digest_object", fake_digest)
    monkeypatch.setattr("findme.services.digest.digest_object", fake_digest)
    return module, calls


class _Progress:
    def __init__(self) -> None:
        self.progress: list[tuple[str, int, int]] = []

    def add_job_progress(self, job_id: str, *, done: int = 0, failed: int = 0) -> None:
        self.progress.append((job_id, done, failed))


def ctx() -> LocalContext:
    return LocalContext(function_name="findme-digest", aws_request_id="req-1")


def test_one_transient_failure_does_not_fail_its_neighbours(digest_module: Any) -> None:
    # Given a batch of three messages where the middle one hits a transient error
    module, calls = digest_module
    event = {
        "Records": [
            sqs_record("m1", created("originals/g/a.jpg")),
            sqs_record("m2", created("originals/g/boom.jpg")),
            sqs_record("m3", created("originals/g/c.jpg")),
        ]
    }
    # When the handler runs
    response = module.handler(event, ctx())
    # Then only m2 is reported for retry, and every message was attempted
    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert [k for k, _ in calls] == [
        "originals/g/a.jpg",
        "originals/g/boom.jpg",
        "originals/g/c.jpg",
    ]
    assert all(force for _, force in calls)


def test_undecodable_photo_succeeds_so_it_is_not_retried(digest_module: Any) -> None:
    # Given a message for a corrupt photo (digest marks it failed) and a test event
    module, _ = digest_module
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "findme-media"}
    event = {
        "Records": [
            sqs_record("m1", created("originals/g/corrupt.jpg")),
            sqs_record("m2", test_event),
        ]
    }
    # When handled, Then no message is reported as failed
    assert module.handler(event, ctx()) == {"batchItemFailures": []}


def test_whole_batch_failing_is_reported_not_raised(digest_module: Any) -> None:
    # Given a batch where every message fails transiently
    module, _ = digest_module
    event = {
        "Records": [
            sqs_record("m1", created("originals/g/boom1")),
            sqs_record("m2", created("originals/g/boom2")),
        ]
    }
    # When handled, Then both are listed (the local poller and Lambda both retry them)
    response = module.handler(event, ctx())
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == ["m1", "m2"]


def test_poison_message_is_dropped(digest_module: Any) -> None:
    # Given a message whose body is not an S3 event
    module, calls = digest_module
    event = {"Records": [sqs_record("m1", "garbage")]}
    # When handled, Then it succeeds (never parses, so retrying is useless) and digests nothing
    assert module.handler(event, ctx()) == {"batchItemFailures": []}
    assert calls == []


def test_distributed_map_batch_counts_progress_once(digest_module: Any) -> None:
    # Given an item batch with a corrupt photo, for a job
    module, calls = digest_module
    event = {
        "Items": [
            {"Key": "originals/g/a.jpg", "Size": 1},
            {"Key": "originals/g/corrupt.jpg", "Size": 1},
        ],
        "BatchInput": {"job_id": "job-1", "force": False},
    }
    # When the handler runs
    summary = invoke("digest", event)
    # Then the summary counts one processed and one failed, and the job gets them in one update
    assert (summary["processed"], summary["failed"], summary["faces"]) == (1, 1, 1)
    assert module.deps().metadata.progress == [("job-1", 1, 1)]
    assert [force for _, force in calls] == [False, False]


def test_distributed_map_batch_with_transient_error_raises_for_retry(digest_module: Any) -> None:
    # Given an item batch where one item hits a transient error
    module, calls = digest_module
    event = {
        "Items": [{"Key": "originals/g/boom.jpg"}, {"Key": "originals/g/b.jpg"}],
        "BatchInput": {"job_id": "j"},
    }
    # When the handler runs, Then it raises DigestBatchError after trying every item
    with pytest.raises(DigestBatchError) as info:
        module.handler(event, ctx())
    assert [k for k, _ in calls] == ["originals/g/boom.jpg", "originals/g/b.jpg"]
    assert info.value.details["errors"][0]["key"] == "originals/g/boom.jpg"
    # And no progress was counted (the retried batch counts once)
    assert module.deps().metadata.progress == []


@pytest.fixture
def concurrent_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[ModuleType, list[str], threading.Barrier]:
    """The digest handler with ``digest_workers=3`` and a stub service whose calls meet at a
    barrier: it only passes if three photos are digested at the same time."""
    module = handler_module("digest")
    barrier = threading.Barrier(3, timeout=10)
    threads: list[str] = []

    def fake_digest(key: str, deps: Any, *, size_bytes: int | None, force: bool) -> DigestOutcome:
        threads.append(threading.current_thread().name)
        barrier.wait()  # BrokenBarrierError (a failure) unless three calls run at once
        if "boom" in key:
            raise RuntimeError("DynamoDB throttled")
        return DigestOutcome(key=key, status=DigestStatus.PROCESSED, face_count=1)

    settings = Settings(bucket="findme-media", digest_workers=3)
    stub_deps = SimpleNamespace(settings=settings, metadata=_Progress())
    monkeypatch.setattr(module, "deps", lambda: stub_deps)
    monkeypatch.setattr(module, "digest_object", fake_digest)
    monkeypatch.setattr("findme.services.digest.digest_object", fake_digest)
    return module, threads, barrier


def test_records_run_concurrently_and_a_failure_stays_its_own(concurrent_digest: Any) -> None:
    # Given three messages, the middle one hitting a transient error, and 3 digest workers
    module, threads, _ = concurrent_digest
    event = {
        "Records": [
            sqs_record("m1", created("originals/g/a.jpg")),
            sqs_record("m2", created("originals/g/boom.jpg")),
            sqs_record("m3", created("originals/g/c.jpg")),
        ]
    }
    # When the handler runs
    response = module.handler(event, ctx())
    # Then the three were digested at once, on worker threads, and only m2 is retried
    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert len(set(threads)) == 3
    assert all(name.startswith("digest-record") for name in threads)


def test_map_batch_runs_concurrently_keeping_the_items_order(concurrent_digest: Any) -> None:
    # Given a map batch of three items for a job, and 3 digest workers
    module, threads, _ = concurrent_digest
    event = {
        "Items": [{"Key": f"originals/g/{n}.jpg", "Size": 1} for n in ("a", "b", "c")],
        "BatchInput": {"job_id": "job-1"},
    }
    # When the handler runs
    summary = invoke("digest", event)
    # Then the items ran at once, all three are counted, and the job gets one update
    assert len(set(threads)) == 3
    assert (summary["processed"], summary["faces"]) == (3, 3)
    assert module.deps().metadata.progress == [("job-1", 3, 0)]


def test_map_batch_failure_under_concurrency_raises_after_every_item(
    concurrent_digest: Any,
) -> None:
    # Given a map batch where the first of three concurrent items hits a transient error
    module, threads, _ = concurrent_digest
    event = {
        "Items": [{"Key": f"originals/g/{n}.jpg"} for n in ("boom", "b", "c")],
        "BatchInput": {"job_id": "j"},
    }
    # When the handler runs, Then it raises for a retry once all three ran, naming the item
    with pytest.raises(DigestBatchError) as info:
        module.handler(event, ctx())
    assert len(threads) == 3
    assert info.value.details["errors"] == [
        {"key": "originals/g/boom.jpg", "error": "RuntimeError: DynamoDB throttled"}
    ]
    assert module.deps().metadata.progress == []


def test_map_concurrently_keeps_order_and_bounds_the_threads() -> None:
    # Given 12 items and 3 workers, each item noting how many run at once
    lock = threading.Lock()
    running = [0, 0]  # now, most

    def work(n: int) -> int:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return n * n

    # When mapped, Then the results keep the items' order and at most 3 ran at once
    assert map_concurrently(work, list(range(12)), 3) == [n * n for n in range(12)]
    assert 1 < running[1] <= 3
