"""Step Functions state machines (definitions are data: ``findme/workflows/*.asl.json``) and
the SQS -> digest event source mapping.

The ASL files hold ``${Placeholder}`` names that CDK fills in with ``DefinitionSubstitutions``
(:data:`PLACEHOLDERS`); the local stack's in-process orchestrator runs the same steps.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aws_cdk import (
    ArnFormat,
    Duration,
    Stack,
    aws_iam,
    aws_lambda,
    aws_lambda_event_sources,
    aws_logs,
    aws_s3,
    aws_sqs,
    aws_stepfunctions,
)
from constructs import Construct

from findme_infra.stage import StageConfig
from findme_infra.storage import JOBS, ORIGINALS

WORKFLOWS_DIR = Path(__file__).resolve().parents[2] / "functions" / "findme" / "workflows"
#: Workflow name (``ports.Orchestrator.start``) -> its ASL file.
WORKFLOWS = ("digest_prefix", "cluster", "zip", "reprocess", "delete_group")
#: Functions a definition may name as ``${<Name>FunctionArn}``.
FUNCTIONS = ("digest", "cluster", "zip", "curation")
#: SQS -> digest: messages per invocation and the longest wait to fill a batch.
DIGEST_BATCH_SIZE = 10
DIGEST_BATCHING_WINDOW_S = 5
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
#: ItemReader resources the definitions use (an S3 listing, an id list in a JSON file).
_LIST_OBJECTS = "arn:aws:states:::s3:listObjectsV2"
_GET_OBJECT = "arn:aws:states:::s3:getObject"


def load_definition(workflow: str) -> dict[str, Any]:
    """The ASL document of ``workflow`` (``findme/workflows/<workflow>.asl.json``), parsed."""
    parsed: dict[str, Any] = json.loads((WORKFLOWS_DIR / f"{workflow}.asl.json").read_text())
    return parsed


def item_readers(definition: dict[str, Any]) -> set[str]:
    """``ItemReader`` resources of the Distributed Maps in ``definition`` (nested ones too)."""
    found: set[str] = set()
    for state in definition.get("States", {}).values():
        if state.get("Type") == "Map":
            if "ItemReader" in state:
                found.add(state["ItemReader"]["Resource"])
            found |= item_readers(state.get("ItemProcessor", {}))
    unknown = found - {_LIST_OBJECTS, _GET_OBJECT}
    if unknown:
        raise KeyError(f"no IAM is written for ItemReader {sorted(unknown)}")
    return found


def placeholders(workflow: str) -> set[str]:
    """``${Name}`` placeholders used in ``workflow``'s ASL file."""
    return set(_PLACEHOLDER.findall((WORKFLOWS_DIR / f"{workflow}.asl.json").read_text()))


class Workflows(Construct):
    """The :data:`WORKFLOWS` state machines (standard type), one per ASL file.

    Each has its own role with exactly what its states call: ``lambda:InvokeFunction`` on
    the functions it names, ``dynamodb:UpdateItem`` on the jobs table; a Distributed Map
    also reads its items (``digest_prefix`` lists ``originals/``; ``reprocess`` and
    ``delete_group`` get an id list under ``jobs/``) and starts its own child executions.

    Attributes:
        state_machines: workflow name -> state machine.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        functions: dict[str, aws_lambda.IFunction],
        bucket: aws_s3.IBucket,
        jobs_table_name: str,
        jobs_table_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        values = {
            "DigestFunctionArn": functions["digest"].function_arn,
            "ClusterFunctionArn": functions["cluster"].function_arn,
            "ZipFunctionArn": functions["zip"].function_arn,
            "CurationFunctionArn": functions["curation"].function_arn,
            "BucketName": bucket.bucket_name,
            "OriginalsPrefix": ORIGINALS,
            "JobsTableName": jobs_table_name,
        }
        self.state_machines: dict[str, aws_stepfunctions.StateMachine] = {}
        for workflow in WORKFLOWS:
            name = f"{config.prefix}{workflow.replace('_', '-')}"
            used = placeholders(workflow)
            missing = used - values.keys()
            if missing:
                raise KeyError(f"{workflow}.asl.json uses unknown placeholders {sorted(missing)}")
            log_group = aws_logs.LogGroup(
                self,
                f"{_camel(workflow)}Logs",
                # The /aws/vendedlogs/ prefix keeps the account's log resource policy small.
                log_group_name=f"/aws/vendedlogs/states/{name}",
                retention=config.log_retention,
                removal_policy=config.removal_policy,
            )
            machine = aws_stepfunctions.StateMachine(
                self,
                _camel(workflow),
                state_machine_name=name,
                state_machine_type=aws_stepfunctions.StateMachineType.STANDARD,
                # Inline (not an S3 asset) so the template shows the definition; parsed
                # first so a malformed file fails synth, not the deployment.
                definition_body=aws_stepfunctions.DefinitionBody.from_string(
                    json.dumps(load_definition(workflow), indent=1)
                ),
                definition_substitutions={k: values[k] for k in sorted(used)},
                logs=aws_stepfunctions.LogOptions(
                    destination=log_group,
                    level=aws_stepfunctions.LogLevel.ALL,
                    # Inputs carry ids only, but keep payloads out of the logs anyway.
                    include_execution_data=False,
                ),
                tracing_enabled=True,
                removal_policy=config.removal_policy,
            )
            invoked = [
                functions[fn].function_arn
                for fn in FUNCTIONS
                if f"{fn.capitalize()}FunctionArn" in used
            ]
            machine.add_to_role_policy(
                aws_iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=invoked)
            )
            machine.add_to_role_policy(
                aws_iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[jobs_table_arn])
            )
            readers = item_readers(load_definition(workflow))
            if readers:
                self._allow_distributed_map(machine, stack, name, bucket, readers)
            self.state_machines[workflow] = machine

    @staticmethod
    def _allow_distributed_map(
        machine: aws_stepfunctions.StateMachine,
        stack: Stack,
        name: str,
        bucket: aws_s3.IBucket,
        readers: set[str],
    ) -> None:
        """The maps' ItemReaders (ListObjectsV2 on ``originals/``, GetObject of an id list
        under ``jobs/``) and their child executions."""
        if _LIST_OBJECTS in readers:
            machine.add_to_role_policy(
                aws_iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{ORIGINALS}*"]}},
                )
            )
        if _GET_OBJECT in readers:
            machine.add_to_role_policy(
                aws_iam.PolicyStatement(
                    actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{JOBS}*")]
                )
            )
        # The machine's own ARN is built from its fixed name (a Ref would be a cycle).
        own_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        machine.add_to_role_policy(
            aws_iam.PolicyStatement(actions=["states:StartExecution"], resources=[own_arn])
        )
        machine.add_to_role_policy(
            aws_iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[
                    stack.format_arn(
                        service="states",
                        resource="execution",
                        resource_name=f"{name}/*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )


def connect_digest_queue(
    digest: aws_lambda.Function, queue: aws_sqs.IQueue, config: StageConfig
) -> aws_lambda_event_sources.SqsEventSource:
    """SQS -> digest with partial batch responses (``ReportBatchItemFailures``)."""
    source = aws_lambda_event_sources.SqsEventSource(
        queue,
        batch_size=DIGEST_BATCH_SIZE,
        max_batching_window=Duration.seconds(DIGEST_BATCHING_WINDOW_S),
        report_batch_item_failures=True,
        max_concurrency=config.digest_queue_max_concurrency,
    )
    digest.add_event_source(source)
    return source


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))
