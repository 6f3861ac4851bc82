"""Opaque offset cursors for listings built whole in memory, then sliced into pages.

A cursor is URL-safe base64 (padding stripped) of the JSON ``{"o": offset}``; clients pass
``next_cursor`` back unchanged. Only valid for a stable, sorted listing. Stores with their
own paging (``MetadataStore`` pages) use their own cursors, not these.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import TypeVar

from findme.domain.records import Page
from findme.errors import InvalidInputError

T = TypeVar("T")


def encode_offset(offset: int) -> str:
    """Opaque cursor for ``offset`` (0-based index of the next page's first item)."""
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_offset(cursor: str | None) -> int:
    """Offset from :func:`encode_offset`'s cursor (0 when ``None`` or empty).

    Raises:
        InvalidInputError: ``code="invalid_cursor"`` for a cursor this module did not make.
    """
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        offset = json.loads(raw)["o"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError("Invalid cursor", code="invalid_cursor") from exc
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidInputError("Invalid cursor", code="invalid_cursor")
    return offset


def paginate(items: Sequence[T], *, limit: int, cursor: str | None) -> Page[T]:
    """Slice a sorted listing into a :class:`~findme.domain.records.Page`.

    Args:
        items: the whole listing, in a stable order.
        limit: page size (>= 1).
        cursor: ``None`` for the first page, else the previous page's cursor.

    Returns:
        The page; its ``cursor`` is ``None`` on the last page.

    Raises:
        InvalidInputError: ``code="invalid_cursor"``.
    """
    start = decode_offset(cursor)
    end = start + limit
    return Page(
        items=list(items[start:end]), cursor=encode_offset(end) if end < len(items) else None
    )
