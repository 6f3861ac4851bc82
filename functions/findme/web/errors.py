"""The ONE place where errors become HTTP responses.

Every error response has the same JSON shape, documented as the ``ErrorOut`` schema on every
error status of every operation (:mod:`findme.web.openapi`)::

    {"detail": "human readable message", "code": "machine_readable_code", ...details}

``code`` is :attr:`findme.errors.FindMeError.code` (stable; clients switch on it, never on
``detail``). Extra keyword details given to a :class:`~findme.errors.FindMeError` are added
as further keys (e.g. ``{"reason": "several_faces"}``), so long as they are JSON-safe.

Status mapping (most specific class wins; see :data:`STATUS_BY_CLASS`):

=================================  ======  ==============================================
domain error                        status  notes
=================================  ======  ==============================================
ImageTooLargeError                  413     byte limit (``image_too_large``) or pixel limit
                                            (``image_pixels_exceeded``)
UnsupportedMediaTypeError           415     not JPEG/PNG/WebP/GIF/HEIC (sniffed from bytes)
FaceRequirementError                422     selfie without exactly one acceptable face
InvalidImageError                   400     no file, empty, truncated or undecodable
                                            (the seed's "400 when no image or invalid
                                            file", docs/compatibility.md)
InvalidInputError                   400     unless its ``code`` is in :data:`STATUS_BY_CODE`
NotFoundError                       404
ConflictError                       409
AuthenticationError                 401     with ``WWW-Authenticate: Bearer``
PermissionDeniedError               403     ``access_denied`` from the one access policy
RateLimitedError                    429     with ``Retry-After``
ModelError, DependencyError         503
LocalStackError                     503
any other FindMeError               500
=================================  ======  ==============================================

The same bad file gets the same status on every route that takes one (``docs/errors.md``).

Request validation (pydantic/FastAPI) gives 422 ``{"detail", "code": "validation_error",
"errors": [{"loc", "msg", "type"}]}``; Starlette HTTP errors (404 unknown path, 405, 413
from the body-size guard) keep their status with a ``code`` derived from it. Anything
unexpected is logged and becomes 500 ``internal_error`` without internals in the body.

Dependencies declare the statuses they raise with :func:`raises`; the OpenAPI document lists
them on every operation that uses the dependency (:mod:`findme.web.openapi`).
"""

from __future__ import annotations

import http
import math
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from findme import errors as e
from findme.observability import logger

#: Domain error class -> HTTP status; looked up along the class's MRO (most specific first).
STATUS_BY_CLASS: dict[type[e.FindMeError], int] = {
    e.ImageTooLargeError: 413,
    e.UnsupportedMediaTypeError: 415,
    e.FaceRequirementError: 422,
    e.InvalidImageError: 400,
    e.InvalidInputError: 400,
    e.NotFoundError: 404,
    e.ConflictError: 409,
    e.AuthenticationError: 401,
    e.PermissionDeniedError: 403,
    e.RateLimitedError: 429,
    e.ModelError: 503,
    e.DependencyError: 503,
    e.LocalStackError: 503,
    e.FindMeError: 500,
}

#: Error ``code`` -> HTTP status, for input errors that are semantically 422 rather than 400.
#: Raise e.g. ``InvalidInputError("...", code="too_many_files")`` to get 422.
STATUS_BY_CODE: dict[str, int] = {
    "too_many_files": 422,
    "unknown_section": 422,
    "validation_error": 422,
}

#: Starlette/HTTP status -> code for errors that do not come from the domain.
CODE_BY_STATUS: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def status_for(exc: e.FindMeError) -> int:
    """HTTP status for a domain error (code override first, then the class hierarchy)."""
    if exc.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[exc.code]
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_CLASS:
            return STATUS_BY_CLASS[cls]
    return 500


def error_body(detail: Any, code: str, **extra: Any) -> dict[str, Any]:
    """The one error shape: ``{"detail": ..., "code": ..., **extra}``."""
    return {"detail": detail, "code": code, **extra}


def _json_safe(details: dict[str, Any]) -> dict[str, Any]:
    safe: dict[str, Any] = {}
    for key, value in details.items():
        if key in ("detail", "code"):
            continue
        finite = isinstance(value, float) and math.isfinite(value)
        if isinstance(value, str | int | bool) or value is None or finite:
            safe[key] = value
        elif isinstance(value, list | tuple) and all(
            isinstance(v, str | int | float | bool) for v in value
        ):
            safe[key] = list(value)
    return safe


async def _findme_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.FindMeError)
    status = status_for(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, e.AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, e.RateLimitedError):
        headers["Retry-After"] = str(max(1, int(exc.retry_after_s)))
    details = _json_safe(exc.details)
    if status >= 500:
        # A backend's own error text is for the logs, never for the client.
        logger.warning(
            "request failed",
            extra={"code": exc.code, "path": request.url.path, "details": details},
        )
        details = {}
    body = error_body(exc.message, exc.code, **details)
    return JSONResponse(body, status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"]) if first["loc"] else "request"
    return JSONResponse(
        error_body(f"{where}: {first['msg']}", "validation_error", errors=errors),
        status_code=422,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = CODE_BY_STATUS.get(exc.status_code, f"http_{exc.status_code}")
    return JSONResponse(
        error_body(str(exc.detail), code),
        status_code=exc.status_code,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", extra={"path": request.url.path})
    return JSONResponse(error_body("Internal server error", "internal_error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app`` (called by :func:`findme.web.app.create_app`)."""
    app.add_exception_handler(e.FindMeError, _findme_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


#: The component name of the one error schema (:class:`findme.web.schemas.ErrorOut`).
ERROR_SCHEMA = "ErrorOut"
ERROR_SCHEMA_REF = f"#/components/schemas/{ERROR_SCHEMA}"

#: What each error status means in this API (the OpenAPI response descriptions).
STATUS_DESCRIPTIONS: dict[int, str] = {
    400: "Bad request: a body that cannot be parsed (`bad_request`), or input the route "
    "checks itself (e.g. `invalid_image`, `invalid_phone_number`, `invalid_cursor`).",
    401: "Missing, invalid or expired bearer token (`missing_token`, `invalid_token`, "
    "`token_expired`), or a wrong/expired sign-in code.",
    403: "Signed in, but not allowed: `access_denied` (with `need` and `role`) from the one "
    "access policy, or a refusal of the request itself (`invalid_invite_code`, ...).",
    404: "No such resource (`not_found`, ...).",
    409: "Conflicts with the current state (`conflict`, `phone_registered`, ...).",
    413: "Too large: the request body (`payload_too_large`), a file's bytes "
    "(`image_too_large`) or an image's pixels (`image_pixels_exceeded`).",
    415: "Not a photo FindMe accepts (`unsupported_media_type`): JPEG, PNG, WebP, GIF, HEIC.",
    422: "Request validation failed (`validation_error`, with `errors`), or a well-formed "
    "request the route cannot process (e.g. `face_requirement`, `too_many_files`).",
    429: "Too many requests (`rate_limited`, `otp_rate_limited`); see `Retry-After`.",
    503: "A backing service or the face models are unavailable "
    "(`dependency_unavailable`, `model_error`, ...); retry later.",
}


def error_response(status: int, description: str | None = None) -> dict[str, Any]:
    """An OpenAPI response object for ``status`` with the shared ``ErrorOut`` body."""
    return {
        "description": description
        or STATUS_DESCRIPTIONS.get(status)
        or http.HTTPStatus(status).phrase,
        "content": {"application/json": {"schema": {"$ref": ERROR_SCHEMA_REF}}},
    }


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status documented with the shared error shape.

    Statuses a route's dependencies raise (401, 403, 404, 422, 429, 503, ...) are added to
    the document by :mod:`findme.web.openapi`; list here what the route itself raises.
    """
    return {status: error_response(status) for status in statuses}


#: Attribute on a dependency callable naming the HTTP statuses it can answer with.
ERROR_STATUSES_ATTR = "__findme_error_statuses__"
_F = TypeVar("_F", bound=Callable[..., Any])


def raises(*statuses: int) -> Callable[[_F], _F]:
    """Mark a dependency as answering with ``statuses`` (documented on every route using it)."""

    def mark(fn: _F) -> _F:
        setattr(fn, ERROR_STATUSES_ATTR, tuple(statuses))
        return fn

    return mark


def declared_statuses(fn: object) -> tuple[int, ...]:
    """The statuses :func:`raises` declared on ``fn`` (empty if none)."""
    statuses: tuple[int, ...] = getattr(fn, ERROR_STATUSES_ATTR, ())
    return statuses
