"""infra/README.md's first-deploy checklist and sizing table agree with the templates.

A checklist that names the wrong SSM parameter or a stale quota figure fails a first deploy
as surely as a template defect, so what can be checked against the synthesised stacks is.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from infra_cfn import Synth

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]
README = (REPO_ROOT / "infra" / "README.md").read_text()
STAGES = ("dev", "prod")


def _section(title: str) -> str:
    """The text of the ``## title`` section."""
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def _row(text: str, label: str) -> list[str]:
    """The cells after the first of the table row whose first cell starts with ``label``."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0].startswith(label):
            return cells[1:]
    raise AssertionError(f"no table row {label!r}")


def _functions(synth: Synth, stage: str) -> dict[str, dict[str, object]]:
    return {
        str(f["Properties"]["FunctionName"]).rsplit("-", 1)[-1]: f["Properties"]
        for f in synth.resources(stage, "AWS::Lambda::Function").values()
        if str(f["Properties"].get("FunctionName", "")).startswith("findme-")
    }


def test_checklist_names_the_ssm_parameter_each_stage_resolves(synth: Synth) -> None:
    """Given each stage's template, then the Qdrant URL parameter it resolves at deploy time
    (which must exist first) is the one the checklist tells the operator to create."""
    checklist = _section("First deploy: checklist")
    for stage in STAGES:
        template = synth.templates[stage].to_json()
        (name,) = (
            p["Default"]
            for key, p in template["Parameters"].items()
            if key != "BootstrapVersion" and p["Type"].startswith("AWS::SSM::Parameter")
        )
        assert name == f"/findme/{stage}/qdrant/url"
        assert name in checklist
        assert f"findme/{stage}/qdrant/api-key" in checklist


def test_checklist_states_the_quotas_the_templates_need(synth: Synth) -> None:
    """Given each stage's template, then the checklist's account concurrency is the sum of the
    reservations plus the 100 AWS keeps unreserved (131 dev, 268 prod), and its largest memory
    is the largest function's; the stage table says the same."""
    checklist = _section("First deploy: checklist")
    concurrency = _row(checklist, "account concurrency the reservations need")
    memory = _row(checklist, "largest function memory")
    stage_table = _row(_section("Context keys"), "account concurrency those reservations need")
    for column, stage in enumerate(STAGES):
        functions = _functions(synth, stage)
        reserved = sum(
            int(str(f.get("ReservedConcurrentExecutions", 0))) for f in functions.values()
        )
        assert concurrency[column] == stage_table[column] == str(reserved + 100)
        sizes = {n: int(str(f["MemorySize"])) for n, f in functions.items()}
        largest = max(sizes.values())
        names = ", ".join(sorted(n for n, size in sizes.items() if size == largest))
        assert memory[column] == f"{largest:,} MB ({names})"
    assert (concurrency, memory[0]) == (["131", "268"], memory[1])


def test_every_context_key_is_documented() -> None:
    """Given the context keys findme_infra/stage.py reads, then each has a row in the README's
    context key table (an undocumented key is one a first deploy cannot use)."""
    source = (REPO_ROOT / "infra" / "findme_infra" / "stage.py").read_text()
    keys = set(re.findall(r"(?:try_get_context\(|_optional\(node, )\"(\w+)\"", source))
    assert {"stage", "reserve_concurrency", "max_memory_mb", "admin_phones"} <= keys
    table = _section("Context keys")
    documented = {
        key
        for line in table.splitlines()
        if line.startswith("| `")
        for key in re.findall(r"`(\w+)`", line.split("|")[1])
    }
    assert keys <= documented, sorted(keys - documented)


def test_checklist_covers_a_new_accounts_first_deploy_of_both_stages() -> None:
    checklist = _section("First deploy: checklist")
    for needed in (
        "deploy -c stage=dev",
        "deploy -c stage=prod",
        "-c max_memory_mb=3008",
        "-c reserve_concurrency=false",
        "-c admin_phones=+",
        "L-B99A9384",
        "create-sms-sandbox-phone-number",
        "MonthlySpendLimit",
        "bootstrap aws://",
    ):
        assert needed in checklist, needed
