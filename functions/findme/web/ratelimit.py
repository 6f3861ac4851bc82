"""Per-caller, per-route rate limits (fixed one-minute windows).

A request is counted under ``"{METHOD} {route path} | {caller}"`` where the caller is the
token's user id when a valid bearer token is present, else the client IP. The limit is
``Settings.rate_limit_per_minute`` unless the route declares its own in ``openapi_extra``::

    @router.post("/auth/otp", openapi_extra={RATE_LIMIT_KEY: 10})

(which also documents it in the OpenAPI document). Every response of a limited route carries
``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (epoch seconds,
the GitHub/IETF-draft convention); a request over the limit gets 429 with ``Retry-After``.

Counters live in a :class:`RateLimiter`: :class:`MemoryRateLimiter` per process (local stack,
tests, and a single warm Lambda); in AWS pass a shared counter (a DynamoDB ``ADD`` on a
``{key}#{window}`` item with a TTL) to :func:`findme.web.app.create_app`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: ``openapi_extra`` key with a route's own limit (requests per minute).
RATE_LIMIT_KEY = "x-rate-limit-per-minute"
#: ``request.state`` attribute holding the :class:`RateLimitState` of this request.
STATE_ATTR = "rate_limit"
WINDOW_S = 60


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """One counted request: ``allowed`` or not, ``remaining`` calls, window end (epoch s)."""

    limit: int
    remaining: int
    reset_at: int
    allowed: bool

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int, window_s: int = WINDOW_S) -> RateLimitState:
        """Count one request under ``key``; ``allowed`` is False once ``limit`` is passed."""
        ...


class MemoryRateLimiter:
    """Thread-safe fixed-window counters in this process's memory."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}

    def hit(self, key: str, limit: int, window_s: int = WINDOW_S) -> RateLimitState:
        now = self._clock()
        window = int(now // window_s)
        reset_at = (window + 1) * window_s
        with self._lock:
            if len(self._counts) > 10_000:  # drop windows that have ended
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            count = self._counts.get((key, window), 0) + 1
            self._counts[(key, window)] = count
        return RateLimitState(
            limit=limit,
            remaining=max(0, limit - count),
            reset_at=math.ceil(reset_at),
            allowed=count <= limit,
        )

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class RateLimitHeadersMiddleware:
    """Adds the ``X-RateLimit-*`` headers of ``request.state.rate_limit`` to the response.

    Pure ASGI, so it also decorates error responses (429, 4xx from handlers).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = scope.get("state", {}).get(STATE_ATTR)
                if isinstance(state, RateLimitState):
                    headers = list(message.get("headers", []))
                    for name, value in state.headers().items():
                        headers.append((name.lower().encode(), value.encode()))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
