"""Presigned selfie uploads over HTTP on the local stack (issue 16, item 4): the path for
photos over the request body limit (about 4 MB on Lambda), with moto's S3 enforcing the POST
policy (exact key, content type, content-length-range) and the real models checking faces.

Registration comes before any token, so the upload slot is tied to the phone's valid code;
keys of another phone's or user's slot are never read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from api_http_kit import MAX_UPLOAD_BYTES, Server, bearer, otp_for, phone
from findme import wiring

pytestmark = [pytest.mark.integration, pytest.mark.models]

#: person05 (faces-dev): one large face; not used by the attendee flow's registrations.
SELFIE = "img16.jpg"
OTHER_SELFIE = "img17.jpg"


def _s3_post(upload: dict[str, Any], data: bytes, **fields: str) -> httpx.Response:
    """POST the form fields (optionally overridden) and the file to the presigned URL."""
    return httpx.post(
        upload["url"],
        data={**upload["fields"], **fields},
        files={"file": ("selfie.jpg", data, "image/jpeg")},
        timeout=60,
    )


def _exists(key: str) -> bool:
    return wiring.object_store().head(key) is not None


def test_registration_and_face_routes_take_a_presigned_selfie(
    api_server: Server, faces_dev: Path
) -> None:
    selfie = (faces_dev / "images" / SELFIE).read_bytes()
    with api_server.client() as http:
        # Given a phone with a valid code, which gets an upload slot for its selfie
        number = phone()
        code = otp_for(api_server, http, number)
        wrong = http.post(
            "/register/selfie-uploads",
            json={"phone_number": number, "otp": "000000" if code != "000000" else "111111"},
        )
        assert wrong.status_code == 401
        response = http.post(
            "/register/selfie-uploads",
            json={"phone_number": number, "otp": code, "content_type": "image/jpeg"},
        )
        assert response.status_code == 200, response.text
        upload = response.json()
        key = upload["selfie_key"]
        assert key.startswith("selfies/uploads/p-")
        assert number.lstrip("+") not in key  # the slot never shows the phone number
        assert upload["max_bytes"] == MAX_UPLOAD_BYTES
        # When S3 gets a file over the limit, or another content type, it refuses the POST
        too_big = _s3_post(upload, b"\xff\xd8\xff" + b"0" * MAX_UPLOAD_BYTES)
        assert too_big.status_code == 400, too_big.text
        assert "EntityTooLarge" in too_big.text
        wrong_type = _s3_post(upload, selfie, **{"Content-Type": "text/html"})
        assert wrong_type.status_code == 403, wrong_type.text
        other_key = _s3_post(upload, selfie, key=key.rsplit("/", 1)[0] + "/other.jpg")
        assert other_key.status_code == 403, other_key.text
        assert not _exists(key)
        # And it stores the real selfie
        assert _s3_post(upload, selfie).status_code in (200, 204)
        assert _exists(key)
        # Then another phone, with its own valid code, cannot register with that key
        intruder = phone()
        intruder_code = otp_for(api_server, http, intruder)
        stolen = http.post(
            "/register",
            data={
                "name": "Mallory",
                "phone_number": intruder,
                "otp": intruder_code,
                "selfie_key": key,
            },
        )
        assert stolen.status_code == 404, stolen.text
        assert stolen.json()["code"] == "selfie_upload_not_found"
        # And the phone's owner registers with the key instead of a file
        registered = http.post(
            "/register",
            data={"name": "Eve", "phone_number": number, "otp": code, "selfie_key": key},
        )
        assert registered.status_code == 201, registered.text
        token = registered.json()["access_token"]
        user_id = registered.json()["user_id"]
        # And the upload is gone, the selfie kept as the user's reference selfie
        assert not _exists(key)
        refs = wiring.metadata_store().list_reference_faces(user_id)
        assert [r.s3_key.startswith(f"selfies/{user_id}/") for r in refs] == [True]

        # When the signed-in user sends another selfie and a face-route photo by upload
        more = (faces_dev / "images" / OTHER_SELFIE).read_bytes()
        for path, expect in (("/users/me/selfies", 201), ("/get-faces", 200)):
            response = http.post(
                "/users/me/selfie-uploads",
                json={"content_type": "image/jpeg", "size_bytes": len(more)},
                headers=bearer(token),
            )
            assert response.status_code == 200, response.text
            upload = response.json()
            assert upload["selfie_key"].startswith(f"selfies/uploads/u-{user_id}/")
            assert _s3_post(upload, more).status_code in (200, 204)
            # Then the route reads it, once
            done = http.post(path, data={"selfie_key": upload["selfie_key"]}, headers=bearer(token))
            assert done.status_code == expect, done.text
            assert not _exists(upload["selfie_key"])
        assert done.json()["faces"]
        assert len(wiring.metadata_store().list_reference_faces(user_id)) == 2
