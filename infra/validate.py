#!/usr/bin/env python3
"""Lint synthesised cloud assemblies: cfn-lint on each template, asl-validator on each state
machine as deployed (``DefinitionSubstitutions`` filled in). Exits 1 on any error.

``make validate`` synthesises dev and prod with the pinned CDK CLI, then runs::

    .venv/bin/python infra/validate.py --asl-validator "npx --yes asl-validator@4.0.0" \\
        infra/cdk.out/stages/dev infra/cdk.out/stages/prod

cfn-lint warnings and informational findings are printed but do not fail (CDK's own
``DependsOn`` on function roles is W3005); errors do. Prints a JSON summary last.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

#: Pseudo parameters rendered with sample values (the stack is environment-agnostic).
PSEUDO = {
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "findme",
}
#: Resource type -> the property that names it (what ``Ref`` returns for these types).
NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Lambda::Function": "FunctionName",
}


class Renderer:
    """Renders CloudFormation values of one template to plausible literal strings."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.resources: dict[str, Any] = template.get("Resources", {})

    def render(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and len(value) == 1:
            ((fn, arg),) = value.items()
            if fn == "Ref":
                return self._ref(str(arg))
            if fn == "Fn::GetAtt":
                return self._arn(str(arg[0]))
            if fn == "Fn::Join":
                return str(arg[0]).join(self.render(part) for part in arg[1])
        raise ValueError(f"cannot render {json.dumps(value)[:200]}")

    def _ref(self, name: str) -> str:
        if name in PSEUDO:
            return PSEUDO[name]
        resource = self.resources[name]
        prop = NAME_PROPERTY.get(resource["Type"])
        if prop and prop in resource.get("Properties", {}):
            return self.render(resource["Properties"][prop])
        return name.lower()

    def _arn(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        region, account = PSEUDO["AWS::Region"], PSEUDO["AWS::AccountId"]
        if resource["Type"] == "AWS::Lambda::Function":
            return f"arn:aws:lambda:{region}:{account}:function:{self._ref(logical_id)}"
        return f"arn:aws:cloudformation:{region}:{account}:{logical_id.lower()}"

    def definition(self, props: dict[str, Any]) -> dict[str, Any]:
        """A state machine's definition with every ``${Name}`` substituted."""
        text = self.render(props["DefinitionString"])
        for name, value in props.get("DefinitionSubstitutions", {}).items():
            text = text.replace("${" + name + "}", self.render(value))
        parsed: dict[str, Any] = json.loads(text)
        return parsed


def cfn_lint(templates: list[Path]) -> list[dict[str, Any]]:
    """cfn-lint findings (``--format json``) for ``templates``."""
    cfn_lint_bin = Path(sys.executable).with_name("cfn-lint")
    run = subprocess.run(  # noqa: S603 (the venv's cfn-lint on our own templates)
        [str(cfn_lint_bin), "--format", "json", *map(str, templates)],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode & 1:  # bit 1: cfn-lint itself failed (not a finding)
        raise SystemExit(f"cfn-lint failed: {run.stderr.strip()}")
    findings: list[dict[str, Any]] = json.loads(run.stdout or "[]")
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assemblies", nargs="+", type=Path, help="cdk.out directories")
    parser.add_argument(
        "--asl-validator", required=True, help="asl-validator command (pinned npx call)"
    )
    args = parser.parse_args(argv)
    templates = sorted(t for a in args.assemblies for t in a.glob("findme-*.template.json"))
    if not templates:
        raise SystemExit(f"no findme-*.template.json under {args.assemblies}")

    findings = cfn_lint(templates)
    for f in findings:
        where = f"{Path(f['Filename']).name}:{f['Location']['Start']['LineNumber']}"
        print(f"cfn-lint {f['Level']} {f['Rule']['Id']} {where} {f['Message']}", file=sys.stderr)
    errors = [f for f in findings if f["Level"] == "Error"]

    with tempfile.TemporaryDirectory(prefix="findme-asl-") as tmp:
        paths = []
        for template in templates:
            document = json.loads(template.read_text())
            renderer = Renderer(document)
            for resource in document["Resources"].values():
                if resource["Type"] != "AWS::StepFunctions::StateMachine":
                    continue
                name = renderer.render(resource["Properties"]["StateMachineName"])
                path = Path(tmp) / f"{name}.asl.json"
                path.write_text(json.dumps(renderer.definition(resource["Properties"]), indent=1))
                paths.append(path)
        command = shlex.split(args.asl_validator)
        for path in paths:
            command += ["--json-path", str(path)]
        # the Makefile's pinned command on files written above
        asl = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        print(asl.stdout.strip(), file=sys.stderr)
        if asl.stderr.strip():
            print(asl.stderr.strip(), file=sys.stderr)

    summary = {
        "templates": [str(t) for t in templates],
        "cfn_lint": {
            level: sum(1 for f in findings if f["Level"] == level)
            for level in ("Error", "Warning", "Informational")
        },
        "state_machines": len(paths),
        "asl_validator_ok": asl.returncode == 0,
    }
    print(json.dumps(summary, indent=1))
    return 0 if not errors and asl.returncode == 0 and paths else 1


if __name__ == "__main__":
    sys.exit(main())
