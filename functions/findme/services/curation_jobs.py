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
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from findme.domain.keys import KeyScheme
from findme.errors import InvalidInputError
from findme.services import face_deletion, reprocess
from findme.services.digest import DigestDeps
from findme.services.events import parse_event
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


_Id = Annotated[str, StringConstraints(min_length=1)]


class _CurationFields(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    workflow: str
    job_id: _Id
    group_id: _Id | None = None


class CurationStepEvent(_CurationFields):
    """``{"workflow", "step"?, "job_id", "group_id"?, "image_ids"?}``: a plan/finish step, or
    a whole job (``step`` left out: ``all``)."""

    step: str = "all"
    image_ids: list[_Id] | None = None


class CurationBatchEvent(BaseModel):
    """A map batch: ``{"Items": [image ids], "BatchInput": {"workflow", "job_id",
    "group_id"}}``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    items: list[_Id] = Field(validation_alias="Items")
    batch_input: _CurationFields = Field(validation_alias="BatchInput")


def parse_curation_task(event: dict[str, Any]) -> CurationTask:
    """A :class:`CurationTask` from a curation worker event (:class:`CurationBatchEvent` when
    it has ``Items``, else :class:`CurationStepEvent`).

    Raises:
        InvalidInputError: unknown workflow or step, or a missing/malformed field.
    """
    fields: _CurationFields
    if "Items" in event:
        batch = parse_event(CurationBatchEvent, event, "curation map batch")
        fields, step, ids = batch.batch_input, "batch", tuple(batch.items)
    else:
        one = parse_event(CurationStepEvent, event, "curation event")
        fields, step, ids = one, one.step, ()
    workflow = fields.workflow
    if workflow not in STEPS:
        raise InvalidInputError(f"unknown curation workflow {workflow!r}", field="workflow")
    if step not in STEPS[workflow]:
        raise InvalidInputError(f"unknown {workflow} step {step!r}", field="step")
    if workflow == face_deletion.DELETE_GROUP_WORKFLOW and fields.group_id is None:
        raise InvalidInputError("curation event needs a group_id", field="group_id")
    if workflow == reprocess.REPROCESS_WORKFLOW and step == "all":
        image_ids = fields.image_ids if isinstance(fields, CurationStepEvent) else None
        if not image_ids:
            raise InvalidInputError(
                "curation event needs image_ids (a list of ids)", field="image_ids"
            )
        ids = tuple(image_ids)
    return CurationTask(workflow, step, fields.job_id, fields.group_id, ids)


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
