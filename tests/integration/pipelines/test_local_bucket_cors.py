"""The local stack's bucket answers browsers as S3 does: from the bucket's CORS rules.

moto's server would allow every origin (flask-cors on the whole app); the local stack turns
that off and provisions the media bucket's rules (loopback origins and
``FINDME_CORS_ORIGINS``), so a wrong rule shows up locally as it would on AWS.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from findme.adapters.s3 import S3ObjectStore
from findme.domain.keys import KeyScheme
from findme.local.stack import StackHandle

pytestmark = pytest.mark.integration

APP = "http://127.0.0.1:8080"
STRANGER = "https://evil.example"


def _preflight(url: str, origin: str) -> httpx.Response:
    return httpx.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=30,
    )


def test_presigned_post_from_the_apps_origin_passes_cors_and_a_stranger_does_not(
    local_stack: StackHandle,
) -> None:
    settings = local_stack.settings()
    store = S3ObjectStore(settings)
    key = KeyScheme().original(f"cors-{uuid.uuid4().hex[:8]}", str(uuid.uuid4()), ".jpg")
    post = store.presigned_post(key, max_bytes=1024, expires_s=300)
    # Given a preflight from the web app's origin, Then the bucket allows it (its own rules)
    allowed = _preflight(post.url, APP)
    assert allowed.status_code == 200
    assert allowed.headers.get("access-control-allow-origin") == APP
    assert "POST" in allowed.headers.get("access-control-allow-methods", "")
    # And the upload's answer carries the origin too (moto leaves it bare; the stack adds it)
    upload = httpx.post(
        post.url,
        data={**post.fields, "Content-Type": "image/jpeg"},
        files={"file": ("a.jpg", b"\xff\xd8\xff" + b"0" * 64, "image/jpeg")},
        headers={"Origin": APP},
        timeout=30,
    )
    assert upload.status_code in (200, 201, 204), upload.text
    assert upload.headers.get("access-control-allow-origin") == APP
    # Given an origin the rules do not name, Then neither answer allows it
    refused = _preflight(post.url, STRANGER)
    assert refused.headers.get("access-control-allow-origin") is None
    again = httpx.post(
        post.url,
        data={
            **store.presigned_post(key, max_bytes=1024, expires_s=300).fields,
            "Content-Type": "image/jpeg",
        },
        files={"file": ("a.jpg", b"\xff\xd8\xff" + b"0" * 64, "image/jpeg")},
        headers={"Origin": STRANGER},
        timeout=30,
    )
    assert again.headers.get("access-control-allow-origin") is None
