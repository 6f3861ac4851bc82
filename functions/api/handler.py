"""api Lambda: API Gateway (HTTP API v2 or REST v1 events) -> the FindMe FastAPI app via Mangum.

The app is built once per execution environment (cold start); Powertools adds the Lambda
context and API Gateway request id to every log line and traces the invocation. The face
engine loads lazily on the first face route (see ``findme.web.app`` for why the api runs
from the digest container image). On ``dev``/``prod`` rate limits and the hourly SMS
budgets are counted in the DynamoDB table ``{table_prefix}rate-limits`` (hash key ``key``,
TTL ``expires_at``), shared by every instance. The client address they are counted under is
Mangum's ``scope["client"]``: API Gateway's ``requestContext.http.sourceIp`` (payload 2.0)
or ``requestContext.identity.sourceIp`` (REST v1); ``X-Forwarded-For`` is not read.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from findme.config import get_settings
from findme.observability import logger, tracer
from findme.ports import RateLimiter
from findme.web.app import create_app
from mangum import Mangum

settings = get_settings()
limiter: RateLimiter | None = None
if settings.stage in ("dev", "prod"):
    # Deployed stages share rate-limit counters across instances (DynamoDB); else per process.
    from findme.adapters.ratelimit import DynamoRateLimiter

    limiter = DynamoRateLimiter(settings)
app = create_app(settings, rate_limiter=limiter)
asgi_handler = Mangum(app, lifespan="off")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return asgi_handler(event, context)  # type: ignore[arg-type]
