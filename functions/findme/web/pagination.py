"""Cursor pagination for list endpoints: ``?limit=&cursor=`` in, ``{items, next_cursor}`` out
(:class:`findme.web.schemas.common.PageOut`).

Cursors are opaque strings: either the store's own (``MetadataStore`` pages) or, for lists
built in memory, the offset cursors of :func:`findme.domain.cursors.paginate` (the one
``paginate``).
Clients pass ``next_cursor`` back unchanged; ``next_cursor`` is ``null`` on the last page.
A cursor that cannot be decoded gives 400 ``invalid_cursor``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from findme.web.errors import raises

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@raises(400)
class PageParams:
    """Query parameters of a paginated list (use as ``Depends()``, alias ``deps.Page``).

    A route taking a page decodes ``cursor``: 400 ``invalid_cursor`` when it cannot.
    """

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
