"""Schemathesis over the whole OpenAPI document against the real app (a bounded ``make fuzz``).

The same driver as ``make fuzz`` (:mod:`findme.local.fuzz`): a fuzzing world made through
the API (an organiser with a group, a section and a processed, clustered photo; a member of
the group), then schemathesis over every operation with each caller's token, checking
not_a_server_error, status_code_conformance and response_schema_conformance. Here it runs
against ``api_server`` (the real app, real stores and models) with a small budget: 3 test
cases per operation and phase under ``CI=true``, 5 otherwise (``make fuzz`` runs 25).

The fuzz gets its own rate-limit counters for the run, so per-route limits are exercised
(429 is documented) without spending the budgets of the tests that come after it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_http_kit import Server, serving_with
from findme.local.fuzz import build_world, run_fuzz
from findme.local.outbox import last_sms
from findme.services.auth import code_in_message
from findme.web.ratelimit import MemoryRateLimiter

MAX_EXAMPLES = 3 if os.environ.get("CI") else 5
#: A pass over 69 operations takes ~30 s at these budgets; this only stops a runaway.
PASS_TIMEOUT_S = 900.0


@pytest.fixture
def own_rate_limits(api_server: Server) -> Iterator[None]:
    with serving_with(api_server, MemoryRateLimiter()):
        yield


def test_fuzzing_the_whole_document_finds_no_server_error_and_no_schema_violation(
    api_server: Server, faces_dev: Path, tmp_path: Path, own_rate_limits: None
) -> None:
    # Given an organiser, a member and their group, made through the API
    images = faces_dev / "images"

    def code_sent_to(number: str) -> str:
        sms = last_sms(api_server.settings.local_state_dir, number)
        code = code_in_message(sms.message) if sms else None
        assert code is not None, f"no code sent to {number}"
        return code

    with api_server.client() as http:
        world = build_world(
            http,
            code_sent_to,
            organiser_selfie=images / "img3.jpg",
            member_selfie=images / "img1.jpg",
            photo=images / "couple.jpg",
        )
    # When schemathesis runs every operation with each caller's token
    summary = run_fuzz(
        api_server.base_url,
        world,
        tmp_path,
        max_examples=MAX_EXAMPLES,
        seed=11,
        timeout_s=PASS_TIMEOUT_S,
    )
    report = json.dumps(summary.as_dict(), indent=1)
    print(report)
    # Then every operation was tested, with no server error and no schema violation
    assert summary.operations_tested == summary.operations, report
    assert (summary.server_errors, summary.schema_violations, summary.errors) == (0, 0, 0), report
