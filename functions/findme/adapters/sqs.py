"""SQS adapter: the local worker's view of the digest queue (ports.MessageQueue)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from findme.config import Settings
from findme.errors import DependencyError
from findme.ports import QueueMessage


class SqsQueue:
    """An SQS queue by URL; endpoint from ``Settings.aws_endpoint_url`` (moto locally)."""

    def __init__(self, settings: Settings, queue_url: str | None = None) -> None:
        url = queue_url or settings.digest_queue_url
        if not url:
            raise DependencyError("no queue URL: set FINDME_DIGEST_QUEUE_URL")
        self.url = url
        self._client: Any = boto3.client(
            "sqs",
            region_name=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
            # long polls outlast botocore's default 60 s read timeout only if we say so
            config=Config(read_timeout=70, retries={"max_attempts": 3, "mode": "standard"}),
        )
        try:
            attrs = self._client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        except (ClientError, BotoCoreError) as exc:
            raise DependencyError(f"SQS queue {url} unavailable: {exc}") from exc
        self.arn: str = attrs["Attributes"]["QueueArn"]

    def receive(self, *, max_messages: int = 10, wait_s: int = 1) -> list[QueueMessage]:
        try:
            response = self._client.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=max(1, min(max_messages, 10)),
                WaitTimeSeconds=max(0, min(wait_s, 20)),
                MessageSystemAttributeNames=["All"],
            )
        except (ClientError, BotoCoreError) as exc:
            raise DependencyError(f"SQS receive failed: {exc}") from exc
        return [
            QueueMessage(
                message_id=m["MessageId"],
                receipt_handle=m["ReceiptHandle"],
                body=m["Body"],
                attributes=dict(m.get("Attributes", {})),
                md5_of_body=m.get("MD5OfBody", ""),
            )
            for m in response.get("Messages", [])
        ]

    def send(self, body: str) -> str:
        """Send one message -> its id. Raises DependencyError."""
        try:
            response = self._client.send_message(QueueUrl=self.url, MessageBody=body)
        except (ClientError, BotoCoreError) as exc:
            raise DependencyError(f"SQS send failed: {exc}") from exc
        return str(response["MessageId"])

    def delete(self, receipt_handles: Sequence[str]) -> None:
        for start in range(0, len(receipt_handles), 10):
            chunk = receipt_handles[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)]
            try:
                self._client.delete_message_batch(QueueUrl=self.url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                raise DependencyError(f"SQS delete failed: {exc}") from exc
