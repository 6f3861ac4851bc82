"""Fixed-window request counting: which window a moment falls in, and what a count allows.

A window of ``length_s`` seconds is ``[index * length_s, (index + 1) * length_s)`` in epoch
seconds, so every counter (each process's memory, every Lambda's DynamoDB item) agrees on
the window without talking to the others. Fixed windows let a caller spend up to twice the
limit across a boundary; that is the accepted price of one atomic increment per request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FixedWindow:
    """The fixed window holding a moment: ``index`` and its ``end`` (epoch seconds)."""

    index: int
    length_s: int

    @classmethod
    def at(cls, now: float, length_s: int) -> FixedWindow:
        """The window of ``length_s`` seconds that holds ``now`` (epoch seconds)."""
        return cls(index=int(now // length_s), length_s=length_s)

    @property
    def end(self) -> int:
        """When the window ends and the count starts again (epoch seconds)."""
        return (self.index + 1) * self.length_s


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """One counted request: ``allowed`` or not, ``remaining`` calls, window end (epoch s).

    ``retry_after_s`` is the whole seconds (at least 1) until ``reset_at``, measured on the
    counter's own clock, for the ``Retry-After`` header (RFC 9110 §10.2.3).
    """

    limit: int
    remaining: int
    reset_at: int
    allowed: bool
    retry_after_s: int

    @classmethod
    def counted(cls, count: int, limit: int, window: FixedWindow, now: float) -> RateLimitState:
        """The state after the ``count``-th request of ``window`` against ``limit``."""
        return cls(
            limit=limit,
            remaining=max(0, limit - count),
            reset_at=window.end,
            allowed=count <= limit,
            retry_after_s=max(1, math.ceil(window.end - now)),
        )

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-Limit/-Remaining/-Reset`` (epoch s; GitHub and IETF-draft style)."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


def binding(states: list[RateLimitState]) -> RateLimitState:
    """The state that decides a request counted under several keys: a refusal first, else
    the one with the fewest calls left (what the ``X-RateLimit-*`` headers report)."""
    return min(states, key=lambda state: (state.allowed, state.remaining))
