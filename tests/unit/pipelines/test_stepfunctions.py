"""The AWS orchestrator starts the state machines named in Settings (moto in-process)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from findme.adapters.stepfunctions import StepFunctionsOrchestrator
from findme.config import Settings
from findme.errors import DependencyError, InvalidInputError
from moto import mock_aws

DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
ROLE = "arn:aws:iam::123456789012:role/findme-sfn"


@pytest.fixture
def sfn() -> Iterator[object]:
    with mock_aws():
        yield boto3.client("stepfunctions", region_name="us-east-1")


def test_start_uses_the_workflows_state_machine_and_job_id_as_name(sfn: object) -> None:
    # Given a zip state machine configured in Settings
    arn = sfn.create_state_machine(name="zip", definition=DEFINITION, roleArn=ROLE)[  # type: ignore[attr-defined]
        "stateMachineArn"
    ]
    orchestrator = StepFunctionsOrchestrator(Settings(zip_state_machine_arn=arn))
    # When a zip job is started
    execution_arn = orchestrator.start("zip", {"job_id": "job-1"})
    # Then an execution of that machine runs with the payload as input, named after the job
    described = sfn.describe_execution(executionArn=execution_arn)  # type: ignore[attr-defined]
    assert described["stateMachineArn"] == arn
    assert described["name"] == "zip-job-1"
    assert json.loads(described["input"]) == {"job_id": "job-1"}


def test_unknown_or_unconfigured_workflows_are_errors(sfn: object) -> None:
    orchestrator = StepFunctionsOrchestrator(Settings())
    with pytest.raises(InvalidInputError):
        orchestrator.start("nope", {})
    with pytest.raises(DependencyError):
        orchestrator.start("cluster", {"group_id": "g"})
