"""SQS -> digest event source mapping and the Step Functions state machines."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Template
from infra_cfn import Synth, render

pytestmark = pytest.mark.infra

MACHINES = [
    f"findme-dev-{name}"
    for name in ("digest-prefix", "cluster", "zip", "reprocess", "delete-group")
]
LAMBDA_SERVICE_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def _machines(synth: Synth, stage: str = "dev") -> dict[str, dict[str, Any]]:
    """State machine name -> properties, with ``Definition`` = the parsed definition."""
    out = {}
    for machine in synth.resources(stage, "AWS::StepFunctions::StateMachine").values():
        props = dict(machine["Properties"])
        props["Definition"] = json.loads(render(props["DefinitionString"]))
        out[props["StateMachineName"]] = props
    return out


def _tasks(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for name, state in states.items():
        if state["Type"] == "Task":
            found[name] = state
        if state["Type"] == "Map":
            found |= _tasks(state["ItemProcessor"]["States"])
    return found


def test_digest_consumes_the_queue_with_partial_batch_responses(synth: Synth) -> None:
    """Given the event source mapping, then the digest function reads the digest queue in
    batches of 10 with a 5 s window and reports partial batch failures."""
    (mapping,) = synth.resources("dev", "AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BatchSize"] == 10
    assert props["MaximumBatchingWindowInSeconds"] == 5
    assert render(props["EventSourceArn"]).startswith("<StorageDigestQueue")
    assert render(props["FunctionName"]).startswith("<DigestFunction")


def test_digest_prefix_is_a_distributed_map_over_the_originals_then_cluster(synth: Synth) -> None:
    """Given the digest_prefix state machine, then a Distributed Map lists the input's prefix
    (the API's s3_prefix, default originals/{group_id}/) with ItemReader, batches items for
    digest with bounded concurrency and a tolerated failure percentage, and then the cluster
    task runs."""
    definition = _machines(synth)["findme-dev-digest-prefix"]["Definition"]
    defaults = definition["States"]["Defaults"]["Parameters"]["defaults"]
    assert defaults["prefix.$"] == "States.Format('${OriginalsPrefix}{}/', $.group_id)"
    assert {"force": False, "cluster": True}.items() <= defaults.items()
    state = definition["States"]["DigestPrefix"]
    assert state["Type"] == "Map"
    assert state["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert state["ItemReader"]["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    assert state["ItemReader"]["Parameters"] == {"Bucket": "${BucketName}", "Prefix.$": "$.prefix"}
    assert state["ItemBatcher"]["MaxItemsPerBatch"] >= 1
    assert set(state["ItemBatcher"]["BatchInput"]) == {"job_id.$", "force.$"}
    assert set(state["ItemSelector"]) == {"Key.$", "Size.$"}
    assert 1 <= state["MaxConcurrency"] <= 1000
    assert 0 < state["ToleratedFailurePercentage"] < 100
    digest = state["ItemProcessor"]["States"]["DigestBatch"]
    assert digest["Parameters"]["FunctionName"] == "${DigestFunctionArn}"
    assert state["Next"] == "ClusterRequested"
    cluster = definition["States"]["Cluster"]
    assert cluster["Parameters"]["FunctionName"] == "${ClusterFunctionArn}"


@pytest.mark.parametrize(
    ("name", "state", "batch"),
    [
        ("findme-dev-reprocess", "ReprocessImages", 50),
        ("findme-dev-delete-group", "DeleteImages", 200),
    ],
)
def test_group_sized_curation_jobs_are_distributed_maps_over_an_id_list_in_s3(
    synth: Synth, name: str, state: str, batch: int
) -> None:
    """Given reprocess and delete-group, then no execution input or task payload carries the
    group's image ids (Step Functions refuses inputs over 256 KiB: ~6,500 ids), and the work
    is a Distributed Map whose ItemReader gets the id list (a JSON array) from the bucket and
    whose ItemBatcher hands the curation worker a batch at a time: about 50 photos to
    reprocess (~2.5 s each: ~2 min of the function's 900 s, where one invocation used to take
    the whole group), with no more children at once than the curation function may run."""
    machines = _machines(synth)
    definition = machines[name]["Definition"]
    assert "image_ids" not in json.dumps(definition)
    map_state = definition["States"][state]
    assert map_state["Type"] == "Map"
    assert map_state["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    reader = map_state["ItemReader"]
    assert reader["Resource"] == "arn:aws:states:::s3:getObject"
    assert reader["ReaderConfig"] == {"InputType": "JSON"}
    assert reader["Parameters"]["Bucket"] == "${BucketName}"
    assert map_state["ItemBatcher"]["MaxItemsPerBatch"] == batch
    assert set(map_state["ItemBatcher"]["BatchInput"]) == {"workflow", "job_id.$", "group_id.$"}
    ((child_name, child),) = (
        (n, t)
        for n, t in map_state["ItemProcessor"]["States"].items()
        if t.get("Resource") == "arn:aws:states:::lambda:invoke"
    )
    assert child["Parameters"] == {"FunctionName": "${CurationFunctionArn}", "Payload.$": "$"}
    assert child["Catch"][0]["Next"] == "CountFailedItems", child_name
    for stage in ("dev", "prod"):
        (curation,) = (
            f["Properties"]
            for f in synth.resources(stage, "AWS::Lambda::Function").values()
            if f["Properties"].get("FunctionName") == f"findme-{stage}-curation"
        )
        assert map_state["MaxConcurrency"] <= curation["ReservedConcurrentExecutions"]
        if state == "ReprocessImages":
            assert batch * 2.5 <= curation["Timeout"] / 4
    assert map_state["Next"] == "Finish"
    assert definition["States"]["Finish"]["Parameters"]["Payload"]["step"] == "finish"


@pytest.mark.parametrize("name", MACHINES)
def test_every_task_retries_and_every_lambda_task_is_caught(synth: Synth, name: str) -> None:
    """Given a state machine, then each Lambda task retries Lambda service errors with backoff
    and, outside the map's children, a failure is caught, marks the job failed and fails."""
    definition = _machines(synth)[name]["Definition"]
    tasks = _tasks(definition["States"])
    assert tasks
    for task_name, task in tasks.items():
        assert task.get("Retry"), task_name
        if task["Resource"] == "arn:aws:states:::lambda:invoke":
            retried = set().union(*(set(r["ErrorEquals"]) for r in task["Retry"]))
            assert retried >= LAMBDA_SERVICE_ERRORS, task_name
            assert all(r["BackoffRate"] >= 2 for r in task["Retry"])
            assert task["TimeoutSeconds"] > 0
    top_level_lambda = [
        t
        for n, t in definition["States"].items()
        if n in tasks and t["Resource"] == "arn:aws:states:::lambda:invoke"
    ]
    for task in top_level_lambda:
        assert task["Catch"][0]["ErrorEquals"] == ["States.ALL"]
        assert task["Catch"][0]["Next"] == "MarkJobFailed"
    assert definition["States"]["MarkJobFailed"]["Next"] == "Failed"
    assert definition["States"]["Failed"]["Type"] == "Fail"


@pytest.mark.parametrize("name", MACHINES)
def test_placeholders_are_all_substituted_and_logging_tracing_are_on(
    synth: Synth, name: str
) -> None:
    """Given a state machine, then every ${Placeholder} of its ASL file has a
    DefinitionSubstitutions value, it logs ALL events to its log group and traces with X-Ray."""
    props = _machines(synth)[name]
    used = set(re.findall(r"\$\{(\w+)\}", render(props["DefinitionString"])))
    assert used
    assert used == set(props["DefinitionSubstitutions"])
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["StateMachineType"] == "STANDARD"


def test_lambda_task_timeouts_exceed_the_function_timeouts(synth: Synth) -> None:
    """Given each Lambda task, then its TimeoutSeconds exceeds the invoked function's timeout
    (Step Functions must not abandon a still-running invocation)."""
    functions = {
        f["Properties"]["FunctionName"].rsplit("-", 1)[-1]: f["Properties"]["Timeout"]
        for f in synth.resources("dev", "AWS::Lambda::Function").values()
        if str(f["Properties"].get("FunctionName", "")).startswith("findme-")
    }
    for machine in _machines(synth).values():
        for task in _tasks(machine["Definition"]["States"]).values():
            fn = task.get("Parameters", {}).get("FunctionName", "")
            match = re.fullmatch(r"\$\{(\w+)FunctionArn\}", fn)
            if match:
                assert task["TimeoutSeconds"] > functions[match.group(1).lower()]


def test_state_machine_definitions_are_inline(dev: Template) -> None:
    """Given the template, then definitions are inline strings (reviewable in a diff), not
    S3 assets."""
    for machine in dev.find_resources("AWS::StepFunctions::StateMachine").values():
        assert "DefinitionString" in machine["Properties"]
        assert "DefinitionS3Location" not in machine["Properties"]


def _retry_wait_s(retrier: dict[str, Any], *, expected: bool) -> float:
    """Seconds a retrier waits over all its attempts: the sum of its backoff intervals (capped
    by MaxDelaySeconds); with FULL jitter each wait is uniform in [0, interval], so the
    expected total is half of that."""
    total = 0.0
    for attempt in range(retrier.get("MaxAttempts", 3)):
        interval = retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** attempt
        total += min(interval, retrier.get("MaxDelaySeconds", interval))
    if expected and retrier.get("JitterStrategy") == "FULL":
        return total / 2
    return total


@pytest.mark.parametrize("name", MACHINES)
def test_throttled_lambda_tasks_wait_longer_than_a_busy_invocation_lasts(
    synth: Synth, name: str
) -> None:
    """Given each Lambda task, then Lambda.TooManyRequestsException is caught first by a retrier
    of its own whose expected total wait is at least twice the invoked function's timeout: a
    throttle means the reserved concurrency is busy, and a slot frees only when a running
    invocation (up to its timeout: 300 s digest, 900 s the others) ends. The shared service
    error retrier (2 s x 2^n, 6 attempts) gave up after at most 126 s."""
    functions = {
        f["Properties"]["FunctionName"].rsplit("-", 1)[-1]: f["Properties"]["Timeout"]
        for f in synth.resources("dev", "AWS::Lambda::Function").values()
        if str(f["Properties"].get("FunctionName", "")).startswith("findme-")
    }
    definition = _machines(synth)[name]["Definition"]
    lambda_tasks = {
        n: t
        for n, t in _tasks(definition["States"]).items()
        if t["Resource"] == "arn:aws:states:::lambda:invoke"
    }
    assert lambda_tasks
    for task_name, task in lambda_tasks.items():
        function = re.fullmatch(r"\$\{(\w+)FunctionArn\}", task["Parameters"]["FunctionName"])
        assert function, task_name
        timeout = functions[function.group(1).lower()]
        first = next(
            r
            for r in task["Retry"]
            if {"Lambda.TooManyRequestsException", "States.ALL"} & set(r["ErrorEquals"])
        )
        assert first["ErrorEquals"] == ["Lambda.TooManyRequestsException"], task_name
        assert _retry_wait_s(first, expected=True) >= 2 * timeout, task_name
        assert first.get("MaxDelaySeconds", 0) > 0, task_name  # backoff without bound overflows
