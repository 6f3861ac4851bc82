"""Per-route rate limits: who a request is counted as, each route's limits, the headers.

A request is counted under ``"{METHOD} {route path} | {caller}"``:

* routes that **require** a bearer token (``CurrentUser`` and the role/group aliases built on
  it): the caller is the token's user (``user:{id}``), or the client address when the token
  is invalid (the auth dependency then answers 401);
* every other route (``/auth/otp``, ``/auth/token``, ``/register``, ``/health``): the client
  address (``ip:{address}``) **and**, when the body carries a ``phone_number``, that phone
  (``phone:{E.164}``), each against its own limit. An attached token is ignored there, so
  holding many accounts does not give many buckets.

The client address is ASGI's ``scope["client"]`` (:func:`client_address`): behind API
Gateway, Mangum sets it from the request context (``requestContext.http.sourceIp`` for HTTP
API payload 2.0, ``requestContext.identity.sourceIp`` for REST v1) and ignores
``X-Forwarded-For``; under uvicorn (``findme local run``) it is the TCP peer, and
``X-Forwarded-For`` is honoured only from the proxies named in ``FINDME_TRUSTED_PROXIES``
(:func:`findme.commands.local_run.uvicorn_config`).

A route's limits are ``Settings.rate_limit_per_minute`` per caller per minute unless it
declares its own in ``openapi_extra`` (which also documents them in the OpenAPI document)::

    @router.get("/groups", openapi_extra={RATE_LIMIT_KEY: 50})          # 50 per minute
    @router.post("/auth/otp", openapi_extra=RouteLimit(600, window_s=300, per_phone=10).extra())

or a :class:`LimitedRouter` gives all its routes one limit (a route's own still wins).

Every response of a limited route carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``
and ``X-RateLimit-Reset`` (epoch seconds, the GitHub/IETF-draft convention) of the counter
closest to refusing; a request over any limit gets 429 with ``Retry-After``.

Counters live in a :class:`~findme.ports.RateLimiter`: :class:`MemoryRateLimiter` per process
(local stack, tests, and a single warm Lambda); in AWS pass a shared counter (a DynamoDB
``ADD`` on a ``{key}#{window}`` item with a TTL) to :func:`findme.web.app.create_app`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from findme.domain.ratelimits import FixedWindow, RateLimitState

#: ``openapi_extra`` key with a route's own limit in requests per minute per caller.
RATE_LIMIT_KEY = "x-rate-limit-per-minute"
#: ``openapi_extra`` key with a route's limits over another window (:meth:`RouteLimit.extra`).
RATE_LIMITS_KEY = "x-rate-limit"
#: ``request.state`` attribute holding the :class:`RateLimitState` of this request.
STATE_ATTR = "rate_limit"
WINDOW_S = 60
#: Counters kept in memory before windows that have ended are dropped.
_MAX_COUNTERS = 10_000


class LimitedRouter(APIRouter):
    """An ``APIRouter`` whose routes are limited to ``per_minute`` requests per minute per
    caller unless they declare their own limit in ``openapi_extra``."""

    def __init__(self, *, per_minute: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.per_minute = per_minute

    def add_api_route(self, *args: Any, **kwargs: Any) -> None:
        """``APIRouter.add_api_route`` with the router's limit in ``openapi_extra``."""
        kwargs["openapi_extra"] = {
            RATE_LIMIT_KEY: self.per_minute,
            **(kwargs.get("openapi_extra") or {}),
        }
        super().add_api_route(*args, **kwargs)


@dataclass(frozen=True, slots=True)
class RouteLimit:
    """A route's limits: ``limit`` requests per ``window_s`` seconds per caller (user or
    client address) and ``per_phone`` per phone number in the body (``None``: ``limit``)."""

    limit: int
    window_s: int = WINDOW_S
    per_phone: int | None = None

    def extra(self) -> dict[str, Any]:
        """The route's ``openapi_extra`` (shown in the OpenAPI document as ``x-rate-limit``)."""
        return {
            RATE_LIMITS_KEY: {
                "limit": self.limit,
                "window_s": self.window_s,
                "per_phone": self.phone_limit,
            }
        }

    @property
    def phone_limit(self) -> int:
        return self.limit if self.per_phone is None else self.per_phone

    @classmethod
    def of_route(cls, extra: Mapping[str, Any] | None, per_minute: int) -> RouteLimit:
        """The limits a route declares in ``openapi_extra``, else ``per_minute`` per minute."""
        extra = extra or {}
        if RATE_LIMITS_KEY in extra:
            spec = extra[RATE_LIMITS_KEY]
            return cls(int(spec["limit"]), int(spec["window_s"]), int(spec["per_phone"]))
        return cls(int(extra.get(RATE_LIMIT_KEY, per_minute)))


def client_address(connection: HTTPConnection) -> str:
    """The address a request is counted under: ASGI ``scope["client"]`` (see module docstring
    for where API Gateway/Mangum and uvicorn take it from), ``"unknown"`` when absent."""
    return connection.client.host if connection.client else "unknown"


class MemoryRateLimiter:
    """Thread-safe fixed-window counters in this process's memory (a
    :class:`~findme.ports.RateLimiter`).

    Args:
        clock: current time in epoch seconds (tests move it instead of sleeping).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int, int], int] = {}

    def hit(self, key: str, limit: int, window_s: int = WINDOW_S) -> RateLimitState:
        now = self._clock()
        window = FixedWindow.at(now, window_s)
        with self._lock:
            if len(self._counts) > _MAX_COUNTERS:  # drop windows that have ended
                self._counts = {k: v for k, v in self._counts.items() if (k[2] + 1) * k[1] > now}
            count = self._counts.get((key, window_s, window.index), 0) + 1
            self._counts[(key, window_s, window.index)] = count
        return RateLimitState.counted(count, limit, window, now)

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
