"""Recovery of the local stack's unfinished work, run by ``findme local run`` before its workers.

After a crash (``kill -9``, a power cut) the durable stores come back whole (DynamoDB Local's
``-dbPath``, the moto snapshot of :mod:`findme.local.persistence`, Qdrant on disk), but work
that was under way in the dead process is not finished by anyone. :func:`recover` finds it
and hands it on, idempotently (running it twice does no harm):

1. **In-flight messages.** The digest messages the dead worker had received are invisible
   until their visibility timeout (minutes) runs out. They are made visible at once
   (``POST /_findme/sqs/release-in-flight`` on the local moto server).
2. **Images.** Every image still ``uploaded`` or ``processing`` gets its S3 notification
   again on the digest queue (the ``ObjectCreated`` record S3 sends; the digest handler
   treats a repeat as at-least-once delivery: the image ends ``processed``, or ``failed``
   with a reason, e.g. when its original never reached S3).
3. **Jobs.** Workflows run on threads of the dead process, so a job left ``pending`` or
   ``running`` would never end and a client polling ``GET /jobs/{id}`` would wait forever.
   Each is marked ``failed`` with the reason ``interrupted``; the client starts it again.
   (Re-clustering needs no job: the worker re-clusters groups whose images it digests.)
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any
from urllib.parse import quote_plus

from findme.config import Settings
from findme.domain.records import Image, ImageStatus, JobStatus, utcnow
from findme.errors import DependencyError
from findme.observability import logger
from findme.ports import MessageQueue, MetadataStore

#: The reason an interrupted job is failed with.
INTERRUPTED = "interrupted: the local stack stopped while this job ran; start it again"
_UNFINISHED = (ImageStatus.UPLOADED, ImageStatus.PROCESSING)
_PAGE = 200


@dataclass(slots=True)
class RecoveryReport:
    """What :func:`recover` handed on."""

    released_messages: int = 0
    redigested_image_ids: list[str] = field(default_factory=list)
    interrupted_job_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "released_messages": self.released_messages,
            "redigested_images": len(self.redigested_image_ids),
            "interrupted_jobs": len(self.interrupted_job_ids),
        }


def s3_created_event(bucket: str, image: Image, region: str) -> dict[str, Any]:
    """The S3 ``ObjectCreated:Put`` notification for ``image``'s original.

    Shape: AWS S3 User Guide, "Event message structure" (version 2.1; the key URL-encoded
    with ``+`` for spaces, as S3 does).
    """
    event_time = image.created_at.astimezone(UTC)
    obj: dict[str, Any] = {"key": quote_plus(image.s3_key, safe="/")}
    if image.size_bytes is not None:
        obj["size"] = image.size_bytes
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": event_time.isoformat().replace("+00:00", "Z"),
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": obj,
                },
            }
        ]
    }


def release_in_flight(moto_url: str, *, timeout_s: float = 30.0) -> int:
    """Ask the local moto server to make its in-flight SQS messages visible -> how many.

    Returns 0 when the server keeps no durable state (the route is not there).

    Raises:
        DependencyError: the server did not answer.
    """
    from findme.local.persistence import RELEASE_PATH

    request = urllib.request.Request(f"{moto_url}{RELEASE_PATH}", data=b"", method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError:
        return 0  # an in-memory moto server: nothing survives a crash, nothing to release
    except (OSError, ValueError) as exc:
        raise DependencyError(f"local moto server at {moto_url} unavailable: {exc}") from exc
    return int(body.get("released", 0)) if isinstance(body, dict) else 0


def recover(
    settings: Settings,
    metadata: MetadataStore,
    queue: MessageQueue,
    *,
    moto_url: str | None = None,
) -> RecoveryReport:
    """Hand on the work a crashed local run left unfinished (see the module docstring).

    Args:
        settings: bucket and region of the stack.
        metadata: the metadata store (images, jobs).
        queue: the digest queue.
        moto_url: the local moto server; ``None`` skips releasing in-flight messages.

    Returns:
        What was released, re-sent and failed.

    Raises:
        DependencyError: DynamoDB, SQS or the moto server failed.
    """
    report = RecoveryReport()
    if moto_url:
        report.released_messages = release_in_flight(moto_url)
    for group in metadata.list_all_groups():
        cursor: str | None = None
        while True:
            page = metadata.list_images(group.group_id, limit=_PAGE, cursor=cursor)
            for image in page.items:
                if image.status in _UNFINISHED:
                    event = s3_created_event(settings.bucket, image, settings.aws_region)
                    queue.send(json.dumps(event))
                    report.redigested_image_ids.append(image.image_id)
            cursor = page.cursor
            if cursor is None:
                break
    for job in metadata.list_unfinished_jobs():
        metadata.update_job(
            job.job_id, status=JobStatus.FAILED, error=INTERRUPTED, updated_at=utcnow()
        )
        report.interrupted_job_ids.append(job.job_id)
    if report.released_messages or report.redigested_image_ids or report.interrupted_job_ids:
        logger.info("local stack recovered unfinished work", extra=report.as_dict())
    return report
