"""zip Lambda: a Step Functions task that streams a download job's originals into one ZIP.

Event: ``{"job_id": "<download job id>"}``. Returns the archive summary (key, presigned
URL, expiry, files, bytes, missing image ids); the job item ends ``ready`` (or ``failed``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from findme import wiring
from findme.config import get_settings
from findme.observability import logger, tracer
from findme.services.archive import build_archive
from findme.services.events import ZipTask, parse_event


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(ZipTask, event, "zip task")
    result = build_archive(
        task.job_id,
        store=wiring.object_store(),
        metadata=wiring.metadata_store(),
        settings=get_settings(),
    )
    return result.as_dict()
