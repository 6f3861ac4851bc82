"""The FindMe domain exception tree.

Adapters translate SDK errors into these (``raise ... from exc``); ``findme.web.errors`` maps
them to HTTP statuses in one place. Code never matches on message strings: it catches types
and reads :attr:`FindMeError.code`.
"""

from __future__ import annotations

from typing import Any


class FindMeError(Exception):
    """Base of every FindMe error; ``code`` is a stable machine-readable identifier."""

    code: str = "findme_error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = details


# --- input -----------------------------------------------------------------------------
class InvalidInputError(FindMeError):
    """The caller sent something malformed (HTTP 400/422)."""

    code = "invalid_input"


class InvalidImageError(InvalidInputError):
    """Bytes that are empty, not an image, truncated or otherwise undecodable."""

    code = "invalid_image"


class ImageTooLargeError(InvalidInputError):
    """An image over the pixel limit (decompression-bomb guard) or the byte limit."""

    code = "image_too_large"


class UnsupportedMediaTypeError(InvalidInputError):
    """A file type FindMe does not accept (HTTP 415)."""

    code = "unsupported_media_type"


class FaceRequirementError(InvalidInputError):
    """A selfie without exactly one acceptable face (no face, several, too small, blurry)."""

    code = "face_requirement"


# --- resources --------------------------------------------------------------------------
class NotFoundError(FindMeError):
    """The named resource does not exist (HTTP 404)."""

    code = "not_found"


class ConflictError(FindMeError):
    """A uniqueness or conditional-write conflict (HTTP 409)."""

    code = "conflict"


# --- auth ---------------------------------------------------------------------------
class AuthenticationError(FindMeError):
    """Missing, expired or invalid credentials (HTTP 401)."""

    code = "unauthenticated"


class PermissionDeniedError(FindMeError):
    """Authenticated, but the role may not do this (HTTP 403)."""

    code = "forbidden"


class RateLimitedError(FindMeError):
    """Too many requests for this caller and route (HTTP 429)."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after_s = retry_after_s


# --- models and dependencies ----------------------------------------------------------------
class ModelError(FindMeError):
    """A model file is missing, corrupt or fails to load."""

    code = "model_error"


class ModelIntegrityError(ModelError):
    """A model file's sha256 does not match the manifest."""

    code = "model_integrity"


class ModelUnavailableError(ModelError):
    """No source could provide a model file."""

    code = "model_unavailable"


class DependencyError(FindMeError):
    """A backing service (S3, DynamoDB, Qdrant, SQS, SNS) failed (HTTP 503)."""

    code = "dependency_unavailable"


class LocalStackError(FindMeError):
    """The local stack could not start, or a local-only command ran outside it."""

    code = "local_stack"
