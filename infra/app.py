#!/usr/bin/env python3
"""CDK entry point: ``cdk synth -c stage=dev|prod`` (see infra/README.md)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import App
from findme_infra.nag import acknowledge_findings, add_checks
from findme_infra.stack import FindMeStack
from findme_infra.stage import stage_config


def build(app: App, stages: Sequence[str | None] = (None,)) -> list[FindMeStack]:
    """Add one stack per stage (``None``: the ``stage`` context) and the cdk-nag checks."""
    stacks = []
    for stage in stages:
        config = stage_config(app.node, stage)
        stack = FindMeStack(
            app,
            f"findme-{config.stage}",
            config=config,
            description=f"FindMe face search ({config.stage})",
            termination_protection=config.protect_data,
        )
        acknowledge_findings(stack)
        stacks.append(stack)
    add_checks(app)
    return stacks


if __name__ == "__main__":
    application = App()
    build(application)
    application.synth()
