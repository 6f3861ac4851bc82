"""Work files of jobs whose input grows with a group: the id list and per-batch summaries.

Step Functions refuses an execution input over 256 KiB (about 6,500 image ids) and a Lambda
invocation stops at 15 minutes (about 360 photos reprocessed), so ``reprocess`` and
``delete_group`` neither carry a group's ids in their input nor work through them in one
invocation. They run as a Distributed Map over an id list in S3 (AWS Step Functions
Developer Guide, "ItemReader": ``arn:aws:states:::s3:getObject`` with ``InputType: JSON``
reads a JSON array; ``ItemBatcher`` passes ``{"Items": [...], "BatchInput": {...}}``):

1. the id list goes to ``jobs/{job_id}/items.json`` (the API for ``reprocess``, the
   ``delete_group`` plan step) and the workflow input names it (``items_key``);
2. the map hands the curation worker about 50 ids at a time;
3. each batch writes what it did to ``jobs/{job_id}/batches/{id}.json``, the id being a hash
   of its item ids, so a retried batch overwrites its own summary and sums never count a
   batch twice;
4. the finish step sums the summaries into the job's result and deletes ``jobs/{job_id}/``
   (the bucket lifecycle expires what a failed job leaves).

The local orchestrator (:mod:`findme.local.orchestrator`) runs the same steps.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from findme.domain.keys import KeyScheme
from findme.errors import InvalidInputError
from findme.ports import ObjectStore

#: Error messages a summary keeps (a job's ``error`` shows the first of them).
MAX_ERRORS = 20
_JSON = "application/json"


@dataclass(slots=True)
class BatchSummary:
    """What one item batch did: how many ids it got, counters, and some error messages."""

    items: int
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "counts": dict(self.counts), "errors": list(self.errors)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchSummary:
        return cls(
            items=int(data.get("items", 0)),
            counts={str(k): int(v) for k, v in dict(data.get("counts") or {}).items()},
            errors=[str(e) for e in data.get("errors") or []],
        )


def combine(summaries: Iterable[BatchSummary]) -> BatchSummary:
    """The sum of ``summaries`` (counters added, errors concatenated up to :data:`MAX_ERRORS`)."""
    total = BatchSummary(items=0)
    for summary in summaries:
        total.items += summary.items
        for name, value in summary.counts.items():
            total.counts[name] = total.counts.get(name, 0) + value
        total.errors.extend(summary.errors[: MAX_ERRORS - len(total.errors)])
    return total


def batch_id(items: Sequence[str]) -> str:
    """A batch's id: SHA-1 of its ids in order (the map gives a retried batch the same ids)."""
    return hashlib.sha1("\n".join(items).encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class JobFiles:
    """One job's files under ``jobs/{job_id}/`` in the media bucket."""

    store: ObjectStore
    keys: KeyScheme
    job_id: str

    @property
    def items_key(self) -> str:
        return self.keys.job_items(self.job_id)

    def write_items(self, ids: Sequence[str]) -> str:
        """Write the id list (a JSON array of strings) -> its key (the workflow's ``items_key``)."""
        self.store.put(self.items_key, json.dumps(list(ids)).encode(), _JSON)
        return self.items_key

    def read_items(self, key: str | None = None) -> list[str]:
        """The id list at ``key`` (default :attr:`items_key`), as the map's ItemReader reads it.

        Raises:
            NotFoundError: no such file. InvalidInputError: not a JSON array of strings, or a
                key outside this job's files.
        """
        key = key or self.items_key
        if not key.startswith(self.keys.job_files(self.job_id)):
            raise InvalidInputError(f"items_key {key!r} is not a file of job {self.job_id}")
        items = json.loads(self.store.get(key))
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise InvalidInputError(f"{key} is not a JSON array of ids")
        return items

    def save_summary(self, items: Sequence[str], summary: BatchSummary) -> None:
        """Write one batch's summary (a retry of the same batch overwrites it)."""
        key = self.keys.job_batch_summary(self.job_id, batch_id(items))
        self.store.put(key, json.dumps(summary.as_dict()).encode(), _JSON)

    def summaries(self) -> list[BatchSummary]:
        """Every batch summary written so far."""
        return [
            BatchSummary.from_dict(json.loads(self.store.get(info.key)))
            for info in self.store.list(self.keys.job_batches(self.job_id))
        ]

    def clear(self) -> None:
        """Delete every file of the job (idempotent)."""
        self.store.delete([info.key for info in self.store.list(self.keys.job_files(self.job_id))])
