"""Secrets from AWS Secrets Manager, cached per store instance (one cold start)."""

from __future__ import annotations

import threading

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from findme.config import Settings
from findme.errors import DependencyError, NotFoundError


class SecretsManagerStore:
    """:class:`findme.ports.SecretStore` over Secrets Manager ``GetSecretValue``."""

    def __init__(self, settings: Settings) -> None:
        self._client = boto3.session.Session().client(
            "secretsmanager",
            region_name=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
        )
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def get_secret(self, secret_id: str) -> str:
        """The secret's string value (cached after the first read).

        Raises:
            NotFoundError: no such secret.
            DependencyError: Secrets Manager failed or the secret is binary.
        """
        with self._lock:
            if secret_id in self._cache:
                return self._cache[secret_id]
        try:
            response = self._client.get_secret_value(SecretId=secret_id)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "ResourceNotFoundException":
                raise NotFoundError("secret not found", secret_id=secret_id) from exc
            raise DependencyError("Secrets Manager failed", sm_code=code) from exc
        except BotoCoreError as exc:
            raise DependencyError("Secrets Manager failed", cause=str(exc)) from exc
        value: str | None = response.get("SecretString")
        if value is None:
            raise DependencyError("secret has no string value", secret_id=secret_id)
        with self._lock:
            self._cache[secret_id] = value
        return value
