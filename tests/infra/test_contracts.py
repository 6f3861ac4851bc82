"""The state machines' task inputs match what the Lambda handlers parse (no synth needed).

The ASL files (``functions/findme/workflows/*.asl.json``) and the handlers
(``functions/{digest,cluster,zip,curation}/handler.py``) are written by different people; these
tests feed the shapes the definitions build to the handlers' own parsers, and check the job
updates the definitions make against the jobs table's item model.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from findme.adapters.dynamodb import JobModel
from findme.domain.keys import KeyScheme
from findme.domain.records import JobStatus
from findme.services.cluster import ClusterTask
from findme.services.curation_jobs import parse_curation_task
from findme.services.digest import DigestBatchError
from findme.services.events import ZipTask, parse_distributed_map_batch
from findme.services.face_deletion import DELETE_GROUP_WORKFLOW
from findme.services.reprocess import REPROCESS_WORKFLOW
from findme_infra.workflows import WORKFLOWS, load_definition

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]
#: What the API puts in each execution's input (findme.services.processing.start_digest,
#: start_cluster, start_download; reprocess.start_reprocess; face_deletion.start_delete_group).
API_INPUTS: dict[str, dict[str, Any]] = {
    "digest_prefix": {"group_id": "g1", "prefix": "originals/g1/2026/", "job_id": "j1"},
    "cluster": {"group_id": "g1", "eps": 0.45, "min_samples": 3, "job_id": "j1"},
    "zip": {"job_id": "j1"},
    "reprocess": {"group_id": "g1", "items_key": "jobs/j1/items.json", "job_id": "j1"},
    "delete_group": {"group_id": "g1", "job_id": "j1"},
}


def _states(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state by name, the Map's children included."""
    found: dict[str, dict[str, Any]] = {}
    for name, state in states.items():
        found[name] = state
        if state["Type"] == "Map":
            found |= _states(state["ItemProcessor"]["States"])
    return found


def _lambda_tasks(workflow: str, function: str) -> list[dict[str, Any]]:
    return [
        state
        for state in _states(load_definition(workflow)["States"]).values()
        if state.get("Resource") == "arn:aws:states:::lambda:invoke"
        and state["Parameters"]["FunctionName"] == f"${{{function}FunctionArn}}"
    ]


def _payload(task: dict[str, Any], state_input: dict[str, Any]) -> dict[str, Any]:
    """The Lambda payload a task builds from ``state_input`` (``$`` or ``$.key`` paths only)."""
    params = task["Parameters"]
    if "Payload.$" in params:
        assert params["Payload.$"] == "$"
        return dict(state_input)
    out: dict[str, Any] = {}
    for key, value in params["Payload"].items():
        if key.endswith(".$"):
            match = re.fullmatch(r"\$\.(\w+)", value)
            assert match, f"unsupported path {value!r}"
            assert match.group(1) in state_input, (key, sorted(state_input))
            out[key[:-2]] = state_input[match.group(1)]
        else:
            out[key] = value
    return out


def test_every_workflow_the_api_starts_has_a_state_machine() -> None:
    """Given the workflow names the API starts (Orchestrator.start), then each has an ASL
    file deployed as a state machine, and vice versa."""
    assert set(API_INPUTS) == set(WORKFLOWS)
    for workflow in WORKFLOWS:
        assert (REPO_ROOT / "functions/findme/workflows" / f"{workflow}.asl.json").is_file()


def test_digest_map_batches_parse_as_the_digest_handler_expects() -> None:
    """Given the digest_prefix map, then one item batch it builds (ItemSelector items and
    ItemBatcher BatchInput) parses with the digest handler's parser: keys, sizes, job, force."""
    definition = load_definition("digest_prefix")
    state = definition["States"]["DigestPrefix"]
    (task,) = _lambda_tasks("digest_prefix", "Digest")
    assert task["Parameters"]["Payload.$"] == "$"
    listing = [{"Key": "originals/g1/2026/a.jpg", "Size": 1234, "ETag": '"x"'}]
    item_selector = state["ItemSelector"]
    assert item_selector == {"Key.$": "$$.Map.Item.Value.Key", "Size.$": "$$.Map.Item.Value.Size"}
    items = [{"Key": obj["Key"], "Size": obj["Size"]} for obj in listing]
    state_input = {**API_INPUTS["digest_prefix"], "force": False, "cluster": True}
    batch_input = {
        key[:-2]: state_input[value.removeprefix("$.")]
        for key, value in state["ItemBatcher"]["BatchInput"].items()
    }
    batch = parse_distributed_map_batch({"Items": items, "BatchInput": batch_input})
    assert batch.items == [("originals/g1/2026/a.jpg", 1234)]
    assert batch.job_id == "j1"
    assert batch.force is False
    retried = {e for r in task["Retry"] for e in r["ErrorEquals"]}
    assert DigestBatchError.__name__ in retried  # Lambda reports the exception class name


def test_digest_prefix_defaults_leave_the_api_prefix_alone() -> None:
    """Given the API's input with an s3_prefix, then the Defaults states keep it (the map
    lists exactly that prefix) and add force=false, cluster=true."""
    states = load_definition("digest_prefix")["States"]
    assert states["Defaults"]["Parameters"]["input.$"] == "$"
    merge = states["ApplyDefaults"]["Parameters"]["input.$"]
    # JsonMerge(defaults, input): the input's keys win (shallow merge, false = not deep).
    assert merge == "States.JsonMerge($.defaults, $.input, false)"
    assert states["DigestPrefix"]["ItemReader"]["Parameters"]["Prefix.$"] == "$.prefix"


def test_cluster_inputs_validate_as_cluster_tasks() -> None:
    """Given both state machines that invoke cluster, then the payloads they build from the
    API's inputs validate as ClusterTask with the group and the job."""
    after_digest = {**API_INPUTS["digest_prefix"], "force": False, "cluster": True}
    for workflow, state_input in (
        ("digest_prefix", after_digest),
        ("cluster", API_INPUTS["cluster"]),
    ):
        (task,) = _lambda_tasks(workflow, "Cluster")
        parsed = ClusterTask.model_validate(_payload(task, state_input))
        assert parsed.group_id == "g1"
        assert parsed.job_id == "j1"
    (task,) = _lambda_tasks("cluster", "Cluster")
    assert ClusterTask.model_validate(_payload(task, API_INPUTS["cluster"])).eps == 0.45


def test_zip_gets_the_job_id() -> None:
    """Given the zip state machine, then the zip handler's event parses as its ZipTask with the
    download job id."""
    (task,) = _lambda_tasks("zip", "Zip")
    assert "parse_event(ZipTask, event" in (REPO_ROOT / "functions/zip/handler.py").read_text()
    assert ZipTask.model_validate(_payload(task, API_INPUTS["zip"])).job_id == "j1"


def _path(state_input: dict[str, Any], path: str) -> Any:
    """The value at a ``$.a.b`` path of ``state_input``."""
    value: Any = state_input
    for part in path.removeprefix("$.").split("."):
        value = value[part]
    return value


@pytest.mark.parametrize(
    ("workflow", "steps"),
    [
        (REPROCESS_WORKFLOW, {"batch", "finish"}),
        (DELETE_GROUP_WORKFLOW, {"plan", "batch", "finish"}),
    ],
)
def test_curation_steps_parse_as_the_curation_worker_expects(
    workflow: str, steps: set[str]
) -> None:
    """Given the reprocess and delete_group state machines, then every event they send the
    curation worker (plan and finish payloads, the map's item batches) parses with the worker's
    own parser into the right workflow, step, job and group, and the map reads the id list at
    jobs/{job_id}/items.json that the API (reprocess) or the plan step (delete_group) wrote."""
    definition = load_definition(workflow)
    state_input = dict(API_INPUTS[workflow])
    (map_state,) = (s for s in definition["States"].values() if s["Type"] == "Map")
    if "Plan" in definition["States"]:
        plan = definition["States"]["Plan"]
        (plan_output,) = plan["ResultSelector"]
        assert plan["ResultSelector"][plan_output] == "$.Payload.items_key"
        state_input[plan["ResultPath"].removeprefix("$.")] = {"items_key": "jobs/j1/items.json"}
    key_path = map_state["ItemReader"]["Parameters"]["Key.$"]
    assert _path(state_input, key_path) == KeyScheme().job_items("j1")
    seen = set()
    for task in _lambda_tasks(workflow, "Curation"):
        if task["Parameters"].get("Payload.$") == "$":  # a map child: one ItemBatcher batch
            batch_input = {
                k.removesuffix(".$"): _path(state_input, v) if k.endswith(".$") else v
                for k, v in map_state["ItemBatcher"]["BatchInput"].items()
            }
            event: dict[str, Any] = {"Items": ["i1", "i2"], "BatchInput": batch_input}
        else:
            event = _payload(task, state_input)
        parsed = parse_curation_task(event)
        assert (parsed.workflow, parsed.job_id, parsed.group_id) == (workflow, "j1", "g1")
        if parsed.step == "batch":
            assert parsed.ids == ("i1", "i2")
        seen.add(parsed.step)
    assert seen == steps


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_job_updates_match_the_job_item_model(workflow: str) -> None:
    """Given every DynamoDB task of a state machine, then it updates the jobs table by its
    hash key, only attributes the job model has, statuses the JobStatus enum knows, and only
    an existing job (a typo must not create a stray item)."""
    attributes = set(JobModel.get_attributes())
    hash_key = next(n for n, a in JobModel.get_attributes().items() if a.is_hash_key)
    statuses = {s.value for s in JobStatus}
    updates = [
        s["Parameters"]
        for s in _states(load_definition(workflow)["States"]).values()
        if s.get("Resource") == "arn:aws:states:::dynamodb:updateItem"
    ]
    assert updates
    for params in updates:
        assert params["TableName"] == "${JobsTableName}"
        assert set(params["Key"]) == {hash_key}
        assert params["ConditionExpression"] == f"attribute_exists({hash_key})"
        assert set(params["ExpressionAttributeNames"].values()) <= attributes
        status = params.get("ExpressionAttributeValues", {}).get(":status")
        if status is not None:
            assert status["S"] in statuses
