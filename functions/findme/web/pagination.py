"""Cursor pagination for list endpoints: ``?limit=&cursor=`` in, ``{items, next_cursor}`` out.

Cursors are opaque strings: either the store's own (``MetadataStore`` pages) or, for lists
built in memory, :func:`paginate` encodes an offset as URL-safe base64 JSON. Clients pass
``next_cursor`` back unchanged; ``next_cursor`` is ``null`` on the last page. A cursor that
cannot be decoded gives 400 ``invalid_cursor``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from findme.errors import InvalidInputError

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class PageParams:
    """Query parameters of a paginated list (use as ``Depends()``, alias ``deps.Page``)."""

    def __init__(
        self,
        limit: Annotated[
            int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1-500).")
        ] = DEFAULT_LIMIT,
        cursor: Annotated[
            str | None,
            Query(max_length=2048, description="`next_cursor` of the previous page."),
        ] = None,
    ) -> None:
        self.limit = limit
        self.cursor = cursor


class PageOut(BaseModel, Generic[T]):
    """One page: ``items`` and the opaque ``next_cursor`` (``null`` on the last page)."""

    items: list[T]
    next_cursor: str | None = Field(default=None, examples=[None])


def encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_offset(cursor: str | None) -> int:
    """Offset in an in-memory cursor; 0 for ``None``.

    Raises:
        InvalidInputError: ``code="invalid_cursor"``.
    """
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        offset = json.loads(raw)["o"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError("Invalid cursor", code="invalid_cursor") from exc
    if not isinstance(offset, int) or offset < 0:
        raise InvalidInputError("Invalid cursor", code="invalid_cursor")
    return offset


def paginate(items: Sequence[T], params: PageParams) -> tuple[list[T], str | None]:
    """Slice an in-memory list: ``(page items, next_cursor)``."""
    start = decode_offset(params.cursor)
    end = start + params.limit
    return list(items[start:end]), (encode_offset(end) if end < len(items) else None)
