"""Background jobs and their atomic progress counters over DynamoDB."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pynamodb.exceptions import PynamoDBException
from pynamodb.expressions.update import Action

from findme.adapters.dynamodb.base import DynamoBase, _from_model, _to_model
from findme.domain.records import Job, JobStatus, utcnow
from findme.errors import ConflictError, DependencyError, NotFoundError


class DynamoJobs(DynamoBase):
    """:class:`findme.ports.JobRepository`."""

    def put_job(self, job: Job) -> None:
        self._call(_to_model(self.jobs, job).save, "put job")

    def get_job(self, job_id: str) -> Job:
        return _from_model(Job, self._get(self.jobs, "job", job_id))

    def list_unfinished_jobs(self) -> Iterator[Job]:
        """Jobs still ``pending`` or ``running``, streamed (Scan: local-stack recovery only)."""
        model = self.jobs
        unfinished = model.status.is_in(JobStatus.PENDING.value, JobStatus.RUNNING.value)
        pages = self._call(lambda: model.scan(filter_condition=unfinished), "scan jobs")
        try:
            for item in pages:
                yield _from_model(Job, item)
        except PynamoDBException as exc:
            raise DependencyError("DynamoDB failed: scan jobs") from exc

    def update_job(self, job_id: str, **changes: Any) -> Job:
        """Set some fields of a job (``updated_at`` is set too) and return the whole job.

        Fields set to ``None`` are removed. Raises NotFoundError, InvalidInputError.
        """
        return _from_model(Job, self._update(self.jobs, Job, "job", job_id, changes))

    def add_job_progress(self, job_id: str, *, done: int = 0, failed: int = 0) -> None:
        """Atomic ``ADD`` on the counters (safe under concurrent workers). Raises NotFoundError."""
        model = self.jobs
        item = model(job_id=job_id)
        actions: list[Action] = [
            model.done.add(done),
            model.failed.add(failed),
            model.updated_at.set(utcnow()),
        ]
        try:
            self._call(lambda: item.update(actions, condition=model.job_id.exists()), "job")
        except ConflictError as exc:
            raise NotFoundError("job not found", id=job_id) from exc
