"""The curation worker Lambda (functions/curation/handler.py): event validation and dispatch."""

from __future__ import annotations

from typing import Any

import pytest
from findme.errors import InvalidInputError
from findme.local.orchestrator import LocalContext, handler_module, load_handler
from findme.services.curation_jobs import CurationTask, parse_curation_task

CONTEXT = LocalContext(function_name="findme-curation", aws_request_id="req-1")


@pytest.mark.parametrize(
    "event",
    [
        {"workflow": "reprocess", "image_ids": ["i1"]},  # no job id
        {"workflow": "reprocess", "job_id": "j1", "image_ids": "i1"},  # not a list
        {"workflow": "delete_group", "job_id": "j1"},  # no group id
        {"workflow": "rm -rf", "job_id": "j1"},  # unknown workflow
        {"workflow": "reprocess", "step": "plan", "job_id": "j1"},  # reprocess has no plan
        {"Items": ["i1"], "BatchInput": {"workflow": "reprocess"}},  # batch without job
        {"Items": "i1", "BatchInput": {"workflow": "reprocess", "job_id": "j1"}},
        {"Items": ["i1"]},  # no BatchInput
    ],
)
def test_bad_events_are_refused(event: dict[str, Any]) -> None:
    handler = load_handler("curation")
    with pytest.raises(InvalidInputError):
        handler(event, CONTEXT)


@pytest.mark.parametrize(
    ("event", "task"),
    [
        (
            {
                "Items": ["a", "b"],
                "BatchInput": {"workflow": "reprocess", "job_id": "j", "group_id": "g"},
            },
            CurationTask("reprocess", "batch", "j", "g", ("a", "b")),
        ),
        (
            {"workflow": "delete_group", "step": "plan", "job_id": "j", "group_id": "g"},
            CurationTask("delete_group", "plan", "j", "g"),
        ),
        (
            {"workflow": "reprocess", "step": "finish", "job_id": "j", "group_id": "g"},
            CurationTask("reprocess", "finish", "j", "g"),
        ),
        (
            {"workflow": "reprocess", "job_id": "j", "image_ids": ["a"]},
            CurationTask("reprocess", "all", "j", None, ("a",)),
        ),
        (
            {"workflow": "delete_group", "job_id": "j", "group_id": "g"},
            CurationTask("delete_group", "all", "j", "g"),
        ),
    ],
)
def test_events_parse_into_their_step(event: dict[str, Any], task: CurationTask) -> None:
    assert parse_curation_task(event) == task


def test_the_handler_runs_the_parsed_task(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the handler module with its task runner replaced by a recorder
    handler = load_handler("curation")
    module = vars(handler_module("curation"))
    calls: list[tuple[CurationTask, Any]] = []
    monkeypatch.setitem(module, "deps", lambda: "deps")
    monkeypatch.setitem(
        module, "run_curation_task", lambda task, deps: calls.append((task, deps)) or {"ok": 1}
    )
    # When a map batch arrives, Then its task runs with the worker's deps
    event = {
        "Items": ["a"],
        "BatchInput": {"workflow": "delete_group", "job_id": "j", "group_id": "g"},
    }
    assert handler(event, CONTEXT) == {"ok": 1}
    assert calls == [(CurationTask("delete_group", "batch", "j", "g", ("a",)), "deps")]
