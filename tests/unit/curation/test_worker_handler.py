"""The curation worker Lambda (functions/curation/handler.py): event validation and dispatch."""

from __future__ import annotations

from typing import Any

import pytest
from findme.errors import InvalidInputError
from findme.local.orchestrator import LocalContext, handler_module, load_handler

CONTEXT = LocalContext(function_name="findme-curation", aws_request_id="req-1")


@pytest.mark.parametrize(
    "event",
    [
        {"workflow": "reprocess", "image_ids": ["i1"]},  # no job id
        {"workflow": "reprocess", "job_id": "j1", "image_ids": "i1"},  # not a list
        {"workflow": "delete_group", "job_id": "j1"},  # no group id
        {"workflow": "rm -rf", "job_id": "j1"},  # unknown workflow
    ],
)
def test_bad_events_are_refused(event: dict[str, Any]) -> None:
    handler = load_handler("curation")
    with pytest.raises(InvalidInputError):
        handler(event, CONTEXT)


def test_events_reach_their_job_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the handler module with its job runners replaced by recorders
    handler = load_handler("curation")
    module = vars(handler_module("curation"))
    calls: list[tuple[str, Any]] = []
    monkeypatch.setitem(module, "deps", lambda: "deps")
    monkeypatch.setitem(
        module,
        "run_reprocess_job",
        lambda job_id, ids, deps: (
            calls.append(("reprocess", (job_id, ids, deps))) or {"processed": 1}
        ),
    )
    monkeypatch.setitem(
        module,
        "run_delete_group_job",
        lambda job_id, group_id, **kw: calls.append(("delete", (job_id, group_id))) or {"faces": 2},
    )
    monkeypatch.setitem(
        module,
        "wiring",
        type(
            "W",
            (),
            {
                "metadata_store": staticmethod(lambda: "m"),
                "vector_index": staticmethod(lambda: "v"),
                "object_store": staticmethod(lambda: "s"),
            },
        ),
    )
    # When each workflow's event arrives, Then its runner gets the ids
    assert handler({"workflow": "reprocess", "job_id": "j1", "image_ids": ["a", "b"]}, CONTEXT) == {
        "processed": 1
    }
    assert handler({"workflow": "delete_group", "job_id": "j2", "group_id": "g"}, CONTEXT) == {
        "faces": 2
    }
    assert calls == [("reprocess", ("j1", ["a", "b"], "deps")), ("delete", ("j2", "g"))]
