"""Context -> StageConfig: validation of the context keys (no synth needed)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App
from findme_infra.stage import stage_config

pytestmark = pytest.mark.infra


def _config(**context: Any) -> Any:
    return stage_config(App(context=context).node)


def test_defaults_are_dev_on_arm64_with_reserved_concurrency() -> None:
    """Given no context, then the stage is dev, arm64, with reserved concurrency."""
    config = _config()
    assert config.stage == "dev"
    assert config.architecture.name == "arm64"
    assert config.digest.reserved_concurrency is not None
    assert config.prefix == "findme-dev-"


def test_architecture_and_reservations_follow_the_context() -> None:
    """Given architecture=x86_64 and reserve_concurrency=false, then every function is x86_64
    and none reserves concurrency."""
    config = _config(stage="prod", architecture="x86_64", reserve_concurrency="false")
    assert config.architecture.name == "x86_64"
    assert all(
        sizing.reserved_concurrency is None
        for sizing in (config.api, config.digest, config.cluster, config.zip)
    )


@pytest.mark.parametrize(
    "context",
    [
        {"stage": "staging"},
        {"architecture": "arm"},
        {"domain_name": "api.example.com"},
        {"certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/x"},
    ],
)
def test_bad_context_fails_synth_with_a_message(context: dict[str, str]) -> None:
    """Given an unknown stage or architecture, or half a custom-domain pair, then building the
    config raises ValueError naming the key."""
    with pytest.raises(ValueError, match=next(iter(context)).split("_")[0]):
        _config(**context)


def test_cors_origins_are_split_on_commas() -> None:
    """Given cors_origins with two origins, then both are allowed (spaces trimmed)."""
    config = _config(cors_origins="https://a.example, https://b.example")
    assert config.cors_origins == ("https://a.example", "https://b.example")


def test_environment_names_are_checked_against_settings() -> None:
    """Given a FINDME_ variable name that is not a Settings field, then building the function
    environment fails at synth instead of being ignored at run time."""
    from findme_infra.functions import findme_env

    assert findme_env(bucket="b") == {"FINDME_BUCKET": "b"}
    with pytest.raises(KeyError, match="buckt"):
        findme_env(buckt="b")
