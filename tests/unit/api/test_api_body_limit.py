"""Request bodies on Lambda (issue 16, item 4): a body the function can receive is held to
``max_request_body_bytes`` with the app's 413, and bigger selfies go by presigned upload.

A synchronous Lambda invocation carries at most 6 MB (6,291,456 bytes) and API Gateway
base64-encodes a binary body (4 bytes per 3), so a multipart body above ~4.7 MB never reaches
the app: the client would get API Gateway's error instead of this 413.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from api_gateway_events import v2_event
from fakes import Api, World, build_api, detected, jpeg
from findme.web.limits import body_limit, file_limit
from mangum import Mangum

LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024
ON_LAMBDA = 4_000_000


def _multipart(fields: dict[str, str], file_field: str, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with ``fields`` and one JPEG file -> (body, content type)."""
    boundary = "findme-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="me.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_a_selfie_the_function_receives_but_over_the_limit_gets_the_apps_413(
    stores: World,
) -> None:
    """Given the api on Lambda (max_request_body_bytes = 4,000,000) behind API Gateway, when a
    phone sends a 4.2 MB selfie to /register (its base64 event still fits Lambda's 6 MB),
    then the app answers 413 payload_too_large with its JSON error body and the limit, before
    any OTP or face work, instead of reading the photo."""
    api = build_api(stores, max_request_body_bytes=ON_LAMBDA)
    handler = Mangum(api.app, lifespan="off")
    body, ctype = _multipart(
        {"name": "Ada", "phone_number": "+14155550100", "otp": "123456"},
        "selfie",
        b"\xff\xd8\xff" + b"\0" * 4_200_000,
    )
    event = v2_event("POST", "/register", headers={"content-type": ctype}, body=body)
    assert len(json.dumps(event)) < LAMBDA_PAYLOAD_BYTES  # Lambda delivers this event
    response: dict[str, Any] = handler(event, None)  # type: ignore[arg-type]
    raw = response["body"]
    if response.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode()
    assert response["statusCode"] == 413
    assert json.loads(raw) == {
        "detail": f"Request body larger than {ON_LAMBDA} bytes; send bigger photos by "
        "presigned POST",
        "code": "payload_too_large",
        "max_bytes": ON_LAMBDA,
    }
    assert api.engine.calls == 0


def test_every_body_within_the_limit_fits_a_lambda_invocation() -> None:
    """Given the setting on Lambda, then no route's body limit (the bulk upload included) lets
    a body through whose base64 event would pass Lambda's 6 MB, and a single file is held to
    the same figure."""
    from fakes import make_settings

    settings = make_settings(max_request_body_bytes=ON_LAMBDA)
    for path in ("/register", "/upload", "/get-faces", "/users/me/selfies"):
        limit = body_limit(settings, path)
        assert limit <= ON_LAMBDA
        assert limit * 4 / 3 + 64 * 1024 < LAMBDA_PAYLOAD_BYTES
    assert file_limit(settings) == ON_LAMBDA
    assert file_limit(make_settings()) == make_settings().max_upload_bytes


def _presign(api: Api, token: str) -> dict[str, Any]:
    """A presigned selfie upload of the user of ``token``."""
    response = api.client.post(
        "/users/me/selfie-uploads", json={"content_type": "image/jpeg"}, headers=api.auth(token)
    )
    assert response.status_code == 200, response.text
    out: dict[str, Any] = response.json()
    return out


def _upload(post: dict[str, Any], data: bytes) -> int:
    """POST the file to S3 (moto's mock intercepts requests) -> status."""
    response = requests.post(
        post["url"], data=post["fields"], files={"file": ("me.jpg", data, "image/jpeg")}, timeout=10
    )
    return response.status_code


def test_a_signed_in_user_adds_a_selfie_and_reads_faces_by_presigned_upload(
    stores: World,
) -> None:
    # Given a signed-in user and a selfie over the body limit (kept small here: the limit is
    # lowered to 64 KiB, the smallest the setting allows)
    api = build_api(stores, max_request_body_bytes=64 * 1024)
    user_id, token, vector = api.register()
    big = api.engine.register(jpeg(width=900, height=700, seed=77), [detected(vector)])
    assert len(big) > 64 * 1024
    refused = api.client.post(
        "/users/me/selfies",
        files={"selfie": ("me.jpg", big, "image/jpeg")},
        headers=api.auth(token),
    )
    assert refused.status_code == 413
    assert refused.json()["code"] == "payload_too_large"
    # When they get an upload slot, POST the photo to S3 and send its key
    post = _presign(api, token)
    assert post["selfie_key"].startswith(f"selfies/uploads/u-{user_id}/")
    assert post["fields"]["key"] == post["selfie_key"]
    assert _upload(post, big) in (200, 204)
    added = api.client.post(
        "/users/me/selfies", data={"selfie_key": post["selfie_key"]}, headers=api.auth(token)
    )
    # Then the selfie is added, and the upload is gone (used once)
    assert added.status_code == 201, added.text
    assert added.json()["reference_faces"] == 2
    assert stores.objects.head(post["selfie_key"]) is None
    again = api.client.post(
        "/users/me/selfies", data={"selfie_key": post["selfie_key"]}, headers=api.auth(token)
    )
    assert again.status_code == 404
    assert again.json()["code"] == "selfie_upload_not_found"
    # And a face route reads an upload the same way
    post = _presign(api, token)
    assert _upload(post, big) in (200, 204)
    faces = api.client.post(
        "/get-faces", data={"selfie_key": post["selfie_key"]}, headers=api.auth(token)
    )
    assert faces.status_code == 200, faces.text
    assert len(faces.json()["faces"]) == 1


def test_keys_of_other_callers_or_of_stored_selfies_are_never_read(stores: World) -> None:
    """Given two users, when one sends the other's upload key, a stored reference selfie's
    key, or any other key as selfie_key, then 404 selfie_upload_not_found (as if nothing
    were there) and nothing is read or deleted."""
    api = build_api(stores)
    alice_id, alice, vector = api.register()
    _, bob, _ = api.register()
    post = _presign(api, alice)
    photo = api.engine.register(jpeg(seed=91), [detected(vector)])
    assert _upload(post, photo) in (200, 204)
    stored = [r.s3_key for r in stores.metadata.list_reference_faces(alice_id)]
    for key in (post["selfie_key"], *stored, "originals/g/i.jpg", "selfies/uploads/../x.jpg"):
        response = api.client.post(
            "/get-embedding", data={"selfie_key": key}, headers=api.auth(bob)
        )
        assert response.status_code == 404, (key, response.text)
        assert response.json()["code"] == "selfie_upload_not_found"
    assert stores.objects.head(post["selfie_key"]) is not None
    both = api.client.post(
        "/get-faces",
        data={"selfie_key": post["selfie_key"]},
        files={"image": ("x.jpg", photo, "image/jpeg")},
        headers=api.auth(alice),
    )
    assert both.status_code == 400


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"content_type": "application/pdf"}, 415, "unsupported_media_type"),
        ({"size_bytes": 30 * 1024 * 1024}, 413, "image_too_large"),
    ],
)
def test_upload_slots_refuse_other_types_and_declared_oversize(
    stores: World, body: dict[str, Any], status: int, code: str
) -> None:
    api = build_api(stores)
    _, token, _ = api.register()
    response = api.client.post("/users/me/selfie-uploads", json=body, headers=api.auth(token))
    assert response.status_code == status
    assert response.json()["code"] == code
