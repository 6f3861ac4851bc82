"""Shared pieces of the curation routers: their error responses, rate limits and face
thumbnail URLs. Not a router itself; their schemas are in :mod:`findme.web.schemas`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends

from findme.domain.records import Face
from findme.services.curation_access import thumbnail_url
from findme.web import deps
from findme.web.errors import error_responses


def thumbnail_urls(
    objects: deps.Objects, settings: deps.SettingsDep
) -> Callable[[Face], str | None]:
    """Face -> presigned GET URL of its thumbnail (expiry ``Settings.presigned_url_expiry_s``)."""
    expires = settings.presigned_url_expiry_s

    def url(face: Face) -> str | None:
        return thumbnail_url(objects, face, expires_s=expires)

    return url


ThumbnailUrls = Annotated[Callable[[Face], str | None], Depends(thumbnail_urls)]

#: Error statuses every authenticated curation route may answer (its router's ``responses``).
AUTH_ERRORS = error_responses(401, 403, 404, 429)
#: And those of a route that takes input (on top of :data:`AUTH_ERRORS`).
INPUT_ERRORS = error_responses(400, 422)

#: Curation reads and writes per caller per minute (the peer API's limits where it has one:
#: docs/compatibility.md).
LIMIT_READ = 120
LIMIT_WRITE = 60
LIMIT_HEAVY = 20
LIMIT_JOB = 10
