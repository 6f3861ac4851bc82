"""Request-body limits, enforced before a byte of an oversize body is buffered.

The limit per request is:

- ``Settings.max_upload_bytes × Settings.max_upload_files`` (+ 1 MiB of form overhead) on
  the multipart upload routes (:data:`BULK_UPLOAD_PATHS`),
- ``Settings.max_upload_bytes`` + 1 MiB everywhere else (one image: a selfie, /get-faces),
- and never more than ``Settings.max_request_body_bytes`` when it is set (4,000,000 on
  Lambda: a synchronous invocation carries 6 MB and API Gateway base64-encodes binary
  bodies, so a larger body would fail at the gateway instead of getting this 413).

One answer for a body that is too large: 413 with the app's error body
``{"detail", "code": "payload_too_large", "max_bytes"}``. A file read from a body is held to
:func:`file_limit` (413 ``image_too_large``). Per-file count, type and pixel limits are
checked by the upload service itself.
"""

from __future__ import annotations

import json
import sys

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from findme.config import Settings
from findme.web.errors import error_body

FORM_OVERHEAD_BYTES = 1024 * 1024
#: Routes that accept several files in one multipart body.
BULK_UPLOAD_PATHS: frozenset[str] = frozenset({"/upload"})


def body_limit(settings: Settings, path: str) -> int:
    """Maximum request body in bytes for ``path``."""
    if path in BULK_UPLOAD_PATHS:
        limit = settings.max_upload_bytes * settings.max_upload_files + FORM_OVERHEAD_BYTES
    else:
        limit = settings.max_upload_bytes + FORM_OVERHEAD_BYTES
    return min(limit, settings.max_request_body_bytes or limit)


def file_limit(settings: Settings) -> int:
    """Largest file a request body may carry, bytes: ``max_upload_bytes``, and no more than
    ``max_request_body_bytes`` (bigger photos go by presigned POST)."""
    return min(settings.max_upload_bytes, settings.max_request_body_bytes or sys.maxsize)


class _BodyTooLargeError(Exception):
    pass


class BodySizeLimitMiddleware:
    """413 ``payload_too_large`` when ``Content-Length`` or the streamed body passes the limit."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(self.settings, scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await _reply_413(send, limit)
                    return
        received = 0
        exceeded = False
        replied = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            # FastAPI turns body-read errors into 400; once over the limit, answer 413 instead.
            nonlocal replied
            if exceeded:
                if not replied:
                    replied = True
                    await _reply_413(send, limit)
                return
            replied = replied or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLargeError:
            if not replied:
                await _reply_413(send, limit)


async def _reply_413(send: Send, limit: int) -> None:
    body = json.dumps(
        error_body(
            f"Request body larger than {limit} bytes; send bigger photos by presigned POST",
            "payload_too_large",
            max_bytes=limit,
        )
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
