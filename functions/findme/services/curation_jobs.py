"""The curation worker's tasks: the steps of the ``reprocess`` and ``delete_group`` workflows.

Both are a Distributed Map over an id list in S3 (:mod:`findme.services.job_files`); the
state machines (``findme/workflows/{reprocess,delete_group}.asl.json``) and the local
orchestrator send the curation worker (``functions/curation/handler.py``) these events:

============================================================  ===============================
event                                                         step
============================================================  ===============================
``{"workflow": "delete_group", "step": "plan", "job_id",``    job running, group vectors
``"group_id"}``                                               deleted, photo ids written
``{"Items": [ids], "BatchInput": {"workflow", "job_id",``     one map batch (~50 photos to
``"group_id"}}``                                              reprocess, 200 to delete)
``{"workflow", "step": "finish", "job_id", "group_id"}``      sum the batches, end the job
``{"workflow": "reprocess", "job_id", "image_ids"}`` or       the whole job in one call
``{"workflow": "delete_group", "job_id", "group_id"}``        (input of executions started
                                                              before the workflows were maps)
============================================================  ===============================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from findme.domain.keys import KeyScheme
from findme.errors import InvalidInputError
from findme.services import face_deletion, reprocess
from findme.services.digest import DigestDeps
from findme.services.job_files import JobFiles

#: Workflow -> the steps its events may name (``all``: the whole job in one call).
STEPS: dict[str, tuple[str, ...]] = {
    reprocess.REPROCESS_WORKFLOW: ("batch", "finish", "all"),
    face_deletion.DELETE_GROUP_WORKFLOW: ("plan", "batch", "finish", "all"),
}


@dataclass(frozen=True, slots=True)
class CurationTask:
    """One parsed curation worker event (see the module docstring).

    ``workflow`` is a key of :data:`STEPS`, ``step`` one of its steps; ``ids``: the batch's
    image ids (``step == "batch"``) or the legacy ``image_ids``.
    """

    workflow: str
    step: str
    job_id: str
    group_id: str | None = None
    ids: tuple[str, ...] = ()


def _text(event: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = event.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"curation event needs a {name}", field=name)
    return value


def _ids(value: object, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(i, str) and i for i in value):
        raise InvalidInputError(f"curation event needs {name} (a list of ids)", field=name)
    return tuple(value)


def parse_curation_task(event: dict[str, Any]) -> CurationTask:
    """A :class:`CurationTask` from a curation worker event.

    Raises:
        InvalidInputError: unknown workflow or step, or a missing/malformed field.
    """
    if "Items" in event:
        batch_input = event.get("BatchInput")
        if not isinstance(batch_input, dict):
            raise InvalidInputError("map batch without BatchInput", field="BatchInput")
        ids = _ids(event["Items"], "Items")
        fields, step = batch_input, "batch"
    else:
        fields, step, ids = event, str(event.get("step") or "all"), ()
    workflow = str(fields.get("workflow"))
    if workflow not in STEPS:
        raise InvalidInputError(f"unknown curation workflow {workflow!r}", field="workflow")
    if step not in STEPS[workflow]:
        raise InvalidInputError(f"unknown {workflow} step {step!r}", field="step")
    job_id = _text(fields, "job_id")
    assert job_id is not None
    group_id = _text(fields, "group_id", required=workflow == face_deletion.DELETE_GROUP_WORKFLOW)
    if workflow == reprocess.REPROCESS_WORKFLOW and step == "all":
        ids = _ids(event.get("image_ids"), "image_ids")
    return CurationTask(workflow, step, job_id, group_id, ids)


def run_curation_task(task: CurationTask, deps: DigestDeps) -> dict[str, Any]:
    """Run one step; returns what the state machine passes on (plan: ``items_key``)."""
    files = JobFiles(deps.store, KeyScheme.from_settings(deps.settings), task.job_id)
    if task.workflow == reprocess.REPROCESS_WORKFLOW:
        if task.step == "batch":
            summary = reprocess.reprocess_batch(task.job_id, task.ids, deps)
            files.save_summary(task.ids, summary)
            return summary.as_dict()
        if task.step == "finish":
            result = reprocess.finish_reprocess(task.job_id, files.summaries(), deps.metadata)
            files.clear()
            return result
        return reprocess.run_reprocess_job(task.job_id, task.ids, deps)
    group_id = task.group_id
    assert group_id is not None
    if task.step == "plan":
        return face_deletion.plan_delete_group(
            task.job_id, group_id, metadata=deps.metadata, vectors=deps.vectors, files=files
        )
    if task.step == "batch":
        summary = face_deletion.delete_group_batch(
            task.job_id, group_id, task.ids, metadata=deps.metadata, store=deps.store
        )
        files.save_summary(task.ids, summary)
        return summary.as_dict()
    if task.step == "finish":
        result = face_deletion.finish_delete_group(
            task.job_id,
            group_id,
            files.summaries(),
            metadata=deps.metadata,
            vectors=deps.vectors,
            store=deps.store,
            keys=files.keys,
        )
        files.clear()
        return result
    return face_deletion.run_delete_group_job(
        task.job_id,
        group_id,
        metadata=deps.metadata,
        vectors=deps.vectors,
        store=deps.store,
        keys=files.keys,
    )
