"""The CDK app synthesised ONCE per test session (both stages in one app, cdk-nag on).

Synth goes through jsii (a Node process) and takes several seconds, so every infra test
shares the templates built here. Nothing reaches AWS or Docker: images are only staged.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
sys.path.append(str(INFRA))  # findme_infra; appended so it shadows nothing
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402
from infra_cfn import Synth  # noqa: E402

# infra/app.py under a unique module name ("app" is too common to put on sys.path as is).
_spec = importlib.util.spec_from_file_location("findme_cdk_app", INFRA / "app.py")
assert _spec is not None
assert _spec.loader is not None
_cdk_app = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cdk_app)


@pytest.fixture(scope="session")
def web_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in web build (the real one is `make web`'s; these tests read templates only)."""
    web_dist = tmp_path_factory.mktemp("web-dist")
    (web_dist / "assets").mkdir()
    (web_dist / "index.html").write_text("<!doctype html><title>FindMe</title>")
    (web_dist / "assets" / "index-abc123.js").write_text("console.log('findme')")
    return web_dist


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Synth:
    """dev and prod stacks with the pinned ``cdk.json`` context, synthesised once."""
    context = json.loads((INFRA / "cdk.json").read_text())["context"]
    context["web_dist"] = str(web_dist)
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(context=context, outdir=str(outdir))
    stacks = _cdk_app.build(app, ["dev", "prod"])
    app.synth()  # raises if any cdk-nag finding is not acknowledged
    by_stage = {stack.config.stage: stack for stack in stacks}
    templates = {stage: Template.from_stack(stack) for stage, stack in by_stage.items()}
    return Synth(stacks=by_stage, templates=templates, outdir=outdir)


@pytest.fixture(scope="session")
def dev(synth: Synth) -> Template:
    return synth.templates["dev"]


@pytest.fixture(scope="session")
def prod(synth: Synth) -> Template:
    return synth.templates["prod"]


#: Context of a first deploy on a new account (infra/README.md "First deploy"): memory held to
#: the new-account quota and the first admin's phone.
NEW_ACCOUNT_CONTEXT = {"max_memory_mb": "3008", "admin_phones": "+14155550123"}


@pytest.fixture(scope="session")
def new_account(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Template:
    """The dev stack synthesised with :data:`NEW_ACCOUNT_CONTEXT` (cdk-nag on)."""
    context = json.loads((INFRA / "cdk.json").read_text())["context"]
    app = App(
        context={**context, **NEW_ACCOUNT_CONTEXT, "web_dist": str(web_dist)},
        outdir=str(tmp_path_factory.mktemp("cdk.out.new-account")),
    )
    (stack,) = _cdk_app.build(app, ["dev"])
    app.synth()
    return Template.from_stack(stack)
