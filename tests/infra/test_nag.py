"""cdk-nag AwsSolutions: no unacknowledged finding, and every acknowledgement has a reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_cfn import Synth

pytestmark = pytest.mark.infra


def _report(synth: Synth) -> Any:
    (plugin,) = json.loads((synth.outdir / "validation-report.json").read_text())["pluginReports"]
    assert plugin["pluginName"] == "AwsSolutions"
    return plugin


def test_aws_solutions_checks_pass(synth: Synth) -> None:
    """Given the synthesised app (dev and prod), then the AwsSolutions pack reports success
    with no open violation."""
    plugin = _report(synth)
    assert plugin["conclusion"] == "success"
    assert plugin["violations"] == []


def test_every_acknowledged_finding_has_a_written_reason(synth: Synth) -> None:
    """Given the suppressed findings, then each carries a reason of at least one sentence,
    and the same reasons are written into the templates' cdk_nag metadata."""
    suppressed = _report(synth)["suppressedViolations"]
    assert suppressed, "the report lists acknowledged findings"
    for finding in suppressed:
        assert len(finding.get("reason", "")) >= 60, finding["ruleName"]
    for stage in ("dev", "prod"):
        template = synth.templates[stage].to_json()
        for resource in template["Resources"].values():
            for rule in (
                resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
            ):
                assert len(rule["reason"]) >= 60, rule["id"]


def test_no_finding_is_acknowledged_stack_wide(synth: Synth) -> None:
    """Given the suppressed findings, then each is acknowledged on a construct below the stack
    (a new finding elsewhere in the stack still fails synth)."""
    for finding in _report(synth)["suppressedViolations"]:
        assert finding["acknowledgedAt"].count("/") >= 1, finding["acknowledgedAt"]
