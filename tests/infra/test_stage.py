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


def test_memory_cap_holds_every_function_to_a_new_accounts_quota() -> None:
    """Given max_memory_mb=3008 (the memory quota of many new accounts), then no function asks
    for more, and functions sized below the cap keep their size."""
    capped, default = _config(stage="prod", max_memory_mb="3008"), _config(stage="prod")
    for name, sizing in capped.sizings.items():
        assert sizing.memory_mb == min(default.sizings[name].memory_mb, 3008), name
    assert max(s.memory_mb for s in default.sizings.values()) > 3008  # the cap matters


@pytest.mark.parametrize("value", ["0", "127", "10241", "lots"])
def test_memory_cap_outside_lambdas_range_fails_synth(value: str) -> None:
    with pytest.raises(ValueError, match="max_memory_mb"):
        _config(max_memory_mb=value)


def test_account_concurrency_is_the_reservations_plus_the_unreserved_hundred() -> None:
    """Given the default reservations, then the account needs 131 concurrent executions in
    dev and 268 in prod (AWS keeps 100 unreserved), and none without reservations."""
    assert _config(stage="dev").account_concurrency == 131
    assert _config(stage="prod").account_concurrency == 268
    assert _config(stage="prod", reserve_concurrency="false").account_concurrency == 100


def test_admin_phones_are_normalised_e164_numbers() -> None:
    config = _config(admin_phones="+1 (415) 555-0123, +447700900123,+14155550123")
    assert config.admin_phones == ("+14155550123", "+447700900123")
    assert _config().admin_phones == ()
    with pytest.raises(ValueError, match="admin_phones"):
        _config(admin_phones="+14155550123,0044 7700")
