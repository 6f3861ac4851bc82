"""Helpers for the infra tests: the synthesised app and CloudFormation value rendering."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template
from findme_infra.stack import FindMeStack


@dataclass(frozen=True)
class Synth:
    """One synthesised app: stacks and templates by stage, the cloud assembly directory."""

    stacks: dict[str, FindMeStack]
    templates: dict[str, Template]
    outdir: Path

    def resources(self, stage: str, type_: str) -> dict[str, dict[str, Any]]:
        """Logical id -> resource (``Type``, ``Properties``...) of one CloudFormation type."""
        found: dict[str, dict[str, Any]] = dict(self.templates[stage].find_resources(type_))  # type: ignore[arg-type]
        return found


def render(value: Any) -> str:
    """A CloudFormation value as text: ``{"Fn::GetAtt": [X, "Arn"]}`` -> ``<X.Arn>``,
    ``{"Ref": X}`` -> ``<X>``, ``Fn::Join`` / ``Fn::Sub`` joined; for pattern checks."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return f"<{arg}>"
        if fn == "Fn::GetAtt":
            return f"<{arg[0]}.{arg[1]}>"
        if fn == "Fn::Join":
            return str(arg[0]).join(render(part) for part in arg[1])
        if fn == "Fn::Sub":
            return str(arg if isinstance(arg, str) else arg[0])
    return json.dumps(value, sort_keys=True)


def statements(template: Template, role_prefix: str) -> Iterator[dict[str, Any]]:
    """Every statement of the inline policies attached to roles whose id starts with
    ``role_prefix`` (e.g. ``"Digest"`` -> ``DigestRole...``)."""
    for policy in template.find_resources("AWS::IAM::Policy").values():
        roles = [render(r) for r in policy["Properties"]["Roles"]]
        if any(r.startswith(f"<{role_prefix}Role") for r in roles):
            yield from policy["Properties"]["PolicyDocument"]["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
