"""Rate-limit counters shared by every api Lambda instance: one DynamoDB item per window.

Fixed windows (one minute for most routes, five for sign-in, one hour for the SMS budgets of
:mod:`findme.services.sms_budget`): ``UpdateItem`` with ``ADD hits :one`` on the item
``{"key": "{key}#{window index}"}`` returns the new count atomically (no read-modify-write
race between concurrent Lambdas), and ``expires_at`` (epoch seconds, the table's TTL
attribute) lets DynamoDB delete old windows. One write per counted key, on-demand billing.

Table :data:`findme.tables.RATE_LIMITS` (``Settings.table_name("rate-limits")``): hash key
``key`` (S), TTL ``expires_at``.
If the table is unreachable the limiter **fails open** (the request is allowed and a
warning logged): a throttling outage must not become an API outage.

The client is botocore's (what ``boto3.client`` wraps): the api's cold start does not pay
for importing boto3 and s3transfer, which only the S3 adapter needs (``benchmarks/cold_start.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError

from findme.config import Settings
from findme.domain.ratelimits import FixedWindow, RateLimitState
from findme.observability import logger
from findme.tables import RATE_LIMITS

TABLE_ENTITY = RATE_LIMITS.name


class DynamoRateLimiter:
    """:class:`findme.ports.RateLimiter` over a DynamoDB table (see module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: Any | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = settings.table_name(TABLE_ENTITY)
        self._client = client or botocore.session.get_session().create_client(
            "dynamodb",
            region_name=settings.aws_region,
            endpoint_url=settings.dynamodb_endpoint_url,
        )
        self._clock = clock

    def hit(self, key: str, limit: int, window_s: int = 60) -> RateLimitState:
        now = self._clock()
        window = FixedWindow.at(now, window_s)
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key={"key": {"S": f"{key}#{window.index}"}},
                UpdateExpression="ADD hits :one SET expires_at = :expires",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":expires": {"N": str(window.end + window_s)},
                },
                ReturnValues="UPDATED_NEW",
            )
            count = int(answer["Attributes"]["hits"]["N"])
        except (ClientError, BotoCoreError) as exc:
            logger.warning("rate limiter unavailable; allowing", extra={"error": str(exc)[:200]})
            count = 1
        return RateLimitState.counted(count, limit, window, now)
