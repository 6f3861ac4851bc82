"""The in-process digest_prefix workflow: batches, bounded concurrency, retries, tolerance, job.

The Lambda handlers are replaced by a recorder (``invoke`` is patched); stores are in memory.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from findme.config import Settings
from findme.domain.records import Job, JobStatus, JobType
from findme.errors import FindMeError
from findme.local import orchestrator as orch
from findme.local.orchestrator import InProcessOrchestrator
from findme.ports import ObjectInfo


class Listing:
    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        return iter(ObjectInfo(key=k, size_bytes=10) for k in self.keys if k.startswith(prefix))


class Jobs:
    def __init__(self, job: Job) -> None:
        self.job = job
        self.lock = threading.Lock()

    def update_job(self, job_id: str, **changes: Any) -> Job:
        for name, value in changes.items():
            setattr(self.job, name, value)
        return self.job

    def add_job_progress(self, job_id: str, *, done: int = 0, failed: int = 0) -> None:
        with self.lock:
            self.job.done += done
            self.job.failed += failed


class Handlers:
    """Records invocations; digest batches holding a ``boom`` key always raise."""

    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.running = 0
        self.max_running = 0
        self.lock = threading.Lock()

    def __call__(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.calls.append((function, event))
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            if function == "cluster":
                return {"faces_processed": 7}
            keys = [item["Key"] for item in event["Items"]]
            if any("boom" in k for k in keys):
                raise RuntimeError("transient")
            corrupt = sum("corrupt" in k for k in keys)
            self.jobs.add_job_progress(
                event["BatchInput"]["job_id"], done=len(keys) - corrupt, failed=corrupt
            )
            return {"processed": len(keys) - corrupt, "failed": corrupt, "skipped": 0, "faces": 1}
        finally:
            with self.lock:
                self.running -= 1


def run(
    keys: list[str], monkeypatch: pytest.MonkeyPatch, **payload: Any
) -> tuple[Job, Handlers, Any]:
    job = Job(job_id="job-1", job_type=JobType.DIGEST, group_id="g")
    jobs = Jobs(job)
    handlers = Handlers(jobs)
    monkeypatch.setattr(orch, "invoke", handlers)
    monkeypatch.setattr(orch.time, "sleep", lambda s: None)
    orchestrator = InProcessOrchestrator(Settings(), store=Listing(keys), metadata=jobs)  # type: ignore[arg-type]
    try:
        output: Any = orchestrator.run(
            "digest_prefix", {"job_id": "job-1", "group_id": "g", **payload}
        )
    except FindMeError as exc:
        output = exc
    finally:
        orchestrator.shutdown()
    return job, handlers, output


def keys_of(*names: str) -> list[str]:
    return [f"originals/g/{n}.jpg" for n in names] + ["originals/other/x.jpg", "faces/g/f.jpg"]


def test_prefix_is_digested_in_batches_then_clustered(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given seven originals of group g (one corrupt) among other keys
    keys = keys_of("a", "b", "c", "d", "e", "corrupt", "f")
    # When digest_prefix runs with batches of 3 and at most 2 at a time
    job, handlers, output = run(keys, monkeypatch, batch_size=3, max_concurrency=2)
    # Then only g's originals were digested, in 3 batches, never more than 2 at once
    digests = [e for f, e in handlers.calls if f == "digest"]
    assert sorted(len(e["Items"]) for e in digests) == [1, 3, 3]
    assert all(e["BatchInput"] == {"job_id": "job-1", "force": False} for e in digests)
    assert handlers.max_running <= 2
    # And the group was clustered last, the job counts 6 done + 1 failed of 7 and succeeded
    assert handlers.calls[-1] == ("cluster", {"group_id": "g", "job_id": "job-1"})
    assert (job.total, job.done, job.failed, job.status) == (7, 6, 1, JobStatus.SUCCEEDED)
    assert output["cluster"] == {"faces_processed": 7}


def test_failing_batches_past_the_tolerance_fail_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given ten originals where one batch of five always fails
    keys = keys_of("a", "b", "c", "d", "boom", "f", "g", "h", "i", "j")
    # When digest_prefix runs tolerating 10 %
    job, handlers, output = run(keys, monkeypatch, batch_size=5, tolerated_failure_percentage=10)
    # Then the failing batch was tried 3 times, its items count failed, the job failed, no cluster
    boom = [e for f, e in handlers.calls if f == "digest" and "boom" in str(e)]
    assert len(boom) == orch.BATCH_ATTEMPTS
    assert isinstance(output, FindMeError)
    assert output.code == "tolerated_failure_exceeded"
    assert (job.total, job.done, job.failed, job.status) == (10, 5, 5, JobStatus.FAILED)
    assert all(f != "cluster" for f, _ in handlers.calls)


def test_failing_batches_within_the_tolerance_still_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = keys_of("a", "b", "c", "d", "boom", "f", "g", "h", "i", "j")
    job, handlers, output = run(keys, monkeypatch, batch_size=5, tolerated_failure_percentage=50)
    assert job.status is JobStatus.SUCCEEDED
    assert output["failed_batch_items"] == 5
    assert handlers.calls[-1][0] == "cluster"
