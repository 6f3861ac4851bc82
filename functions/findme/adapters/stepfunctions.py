"""Step Functions adapter (ports.Orchestrator on AWS): start a state machine execution."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from findme.config import Settings
from findme.errors import DependencyError, InvalidInputError

#: Execution names: 1-80 characters of letters, digits, ``-`` and ``_`` (StartExecution API).
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class StepFunctionsOrchestrator:
    """Starts the digest-prefix, cluster and zip state machines named in Settings.

    When the payload has a ``job_id`` it becomes the execution name, so starting the same job
    twice returns the running execution instead of a second one (StartExecution is idempotent
    for a name and identical input on standard workflows).
    """

    def __init__(self, settings: Settings) -> None:
        self._arns: dict[str, str | None] = {
            "digest_prefix": settings.digest_state_machine_arn,
            "cluster": settings.cluster_state_machine_arn,
            "zip": settings.zip_state_machine_arn,
            "reprocess": settings.reprocess_state_machine_arn,
            "delete_group": settings.delete_group_state_machine_arn,
        }
        self._client: Any = boto3.client(
            "stepfunctions", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
        )

    def start(self, workflow: str, payload: dict[str, Any]) -> str:
        """Start ``workflow`` with ``payload`` as execution input -> execution ARN.

        Raises:
            InvalidInputError: unknown workflow name.
            DependencyError: its ARN is not configured, or Step Functions refused.
        """
        if workflow not in self._arns:
            raise InvalidInputError(f"unknown workflow {workflow!r}", workflow=workflow)
        arn = self._arns[workflow]
        if not arn:
            raise DependencyError(f"state machine for {workflow!r} is not configured")
        kwargs: dict[str, Any] = {"stateMachineArn": arn, "input": json.dumps(payload, default=str)}
        if payload.get("job_id"):
            kwargs["name"] = _NAME_UNSAFE.sub("_", f"{workflow}-{payload['job_id']}")[:80]
        try:
            response = self._client.start_execution(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise DependencyError(f"could not start {workflow}: {exc}") from exc
        return str(response["executionArn"])
