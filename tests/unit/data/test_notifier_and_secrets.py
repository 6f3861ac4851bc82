"""SNS SMS (with the local outbox) and Secrets Manager adapters, on moto in-process."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from findme.adapters.secrets import SecretsManagerStore
from findme.adapters.sns import SnsNotifier
from findme.config import Settings
from findme.errors import NotFoundError
from findme.local.outbox import RecordingNotifier, last_sms
from findme.wiring import notifier_for


def test_sms_on_stage_local_is_also_in_the_outbox(aws: Settings, tmp_path: Path) -> None:
    # Given the notifier wiring builds on stage local (SNS, recorded)
    notifier = notifier_for(aws.model_copy(update={"stage": "local", "local_state_dir": tmp_path}))
    assert isinstance(notifier, RecordingNotifier)
    assert isinstance(notifier.inner, SnsNotifier)
    # When two codes are sent to one phone
    notifier.send_sms("+14155550100", "FindMe code 111111")
    notifier.send_sms("+14155550100", "FindMe code 222222")
    # Then the outbox holds the last one, readable by any process
    sent = last_sms(tmp_path, "+14155550100")
    assert sent is not None
    assert sent.message == "FindMe code 222222"
    assert last_sms(tmp_path, "+14155550199") is None


def test_sms_on_other_stages_writes_no_outbox(aws: Settings, tmp_path: Path) -> None:
    notifier = notifier_for(aws.model_copy(update={"local_state_dir": tmp_path}))
    assert isinstance(notifier, SnsNotifier)
    notifier.send_sms("+14155550101", "x")
    assert last_sms(tmp_path, "+14155550101") is None


def test_secret_is_read_and_cached(aws: Settings) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name="unit/secret", SecretString="s3cr3t")
    store = SecretsManagerStore(aws)
    assert store.get_secret("unit/secret") == "s3cr3t"
    client.put_secret_value(SecretId="unit/secret", SecretString="rotated")
    assert store.get_secret("unit/secret") == "s3cr3t"  # one read per cold start
    assert len(store.get_secret(aws.jwt_secret_id)) >= 32  # provisioned like the local stack
    with pytest.raises(NotFoundError):
        store.get_secret("unit/missing")


def test_qdrant_cloud_key_comes_from_secrets_manager(
    aws: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the Qdrant Cloud API key kept in Secrets Manager
    from findme.adapters import qdrant

    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="unit/qdrant-key", SecretString="qdrant-key-123"
    )
    seen: dict[str, object] = {}
    monkeypatch.setattr(qdrant, "QdrantClient", lambda **kwargs: seen.update(kwargs))
    # When the Cloud client is built
    qdrant.build_client(
        aws.model_copy(
            update={
                "qdrant_url": "https://example.cloud.qdrant.io:6333",
                "qdrant_api_key_secret_id": "unit/qdrant-key",
            }
        )
    )
    # Then it authenticates with the secret's value
    assert seen["api_key"] == "qdrant-key-123"
    assert seen["url"] == "https://example.cloud.qdrant.io:6333"
