"""The bad-image corpus against the real server: real decoder, real digest, memory bounded.

Every file of :func:`contracts.bad_images.corpus` (0-byte, truncated JPEG/PNG, decompression
bombs declaring 60000x60000 and a real 10000x10000 one, a zTXt bomb, huge EXIF headers, a
1,000-frame GIF, CMYK JPEG, 16-bit PNG, SVG, TIFF/BMP, a TIFF named .HEIC, text named .jpg,
one byte over the limit) goes to every route that takes a photo: multipart ``/upload``,
the ``/register`` selfie, ``/users/me/selfies``, ``/get-faces``, and a presigned POST
straight to S3 whose object digest then processes.

Memory is measured on the real server process: ``api_server`` serves the app with uvicorn in
*this* pytest process, next to the SQS poller and the digest worker, as ``findme local run``
does in one process; so the RSS of this process (``/proc/self/status``) is the server's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_http_kit import (
    MAX_UPLOAD_BYTES,
    ORGANISER_SELFIE,
    Server,
    _poll,
    bearer,
    otp_for,
    phone,
    serving_with,
)
from contracts.bad_images import BadFile, corpus
from contracts.openapi import OpenApiDocument
from findme.local.outbox import last_sms
from findme.services.auth import code_in_message
from findme.web.ratelimit import RateLimitState

#: Allowed growth of the server's resident memory over the whole corpus, bytes.
RSS_BUDGET_BYTES = 300 * 1024 * 1024
#: A face photo for the CMYK / 16-bit versions (they must still be found as photos).
FACE_PHOTO = "img5.jpg"


class Unlimited:
    """A rate limiter that allows everything (limits are not under test here; the corpus
    sends 19 selfies to /register, which allows 10 a minute)."""

    def hit(self, key: str, limit: int, window_s: int = 60) -> RateLimitState:
        return RateLimitState(
            limit=limit, remaining=limit, reset_at=0, allowed=True, retry_after_s=0
        )


@pytest.fixture
def unlimited(api_server: Server) -> Iterator[None]:
    with serving_with(api_server, Unlimited()):
        yield


def rss_bytes() -> int:
    """Resident set size of this process (the server's; see the module docstring)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class Caller:
    """A signed-in organiser with a group, and a phone with a code for ``/register``."""

    def __init__(self, server: Server, http: httpx.Client, selfie: bytes) -> None:
        self.server, self.http = server, http
        number = phone()
        code = otp_for(server, http, number)
        response = http.post(
            "/register",
            data={"name": "Corpus", "phone_number": number, "otp": code},
            files={"selfie": ("me.jpg", selfie, "image/jpeg")},
        )
        assert response.status_code == 201, response.text
        self.auth = bearer(response.json()["access_token"])
        response = http.post("/create-group", json={"group_name": "Corpus"}, headers=self.auth)
        self.gid = response.json()["group_id"]
        self.new_phone()

    def new_phone(self) -> None:
        """A fresh phone and code: a registration uses them up, and every try counts
        against the code's ``otp_max_attempts``."""
        self.phone = phone()
        self.tries_left = self.server.settings.otp_max_attempts
        response = self.http.post("/auth/otp", json={"phone_number": self.phone}, headers=self.auth)
        assert response.status_code == 200, response.text
        sms = last_sms(self.server.settings.local_state_dir, self.phone)
        assert sms is not None
        self.code = code_in_message(sms.message)


def send(caller: Caller, route: str, bad: BadFile) -> httpx.Response:
    part = (bad.file_name, bad.data, bad.content_type)
    http = caller.http
    if route == "/upload":
        return http.post(
            "/upload", data={"group_id": caller.gid}, files=[("files", part)], headers=caller.auth
        )
    if route == "/register":
        if caller.tries_left == 0:
            caller.new_phone()
        caller.tries_left -= 1
        response = http.post(
            "/register",
            data={"name": "Bad File", "phone_number": caller.phone, "otp": caller.code or ""},
            files={"selfie": part},
        )
        if response.status_code == 201:
            caller.new_phone()
        return response
    if route == "/users/me/selfies":
        return http.post("/users/me/selfies", files={"selfie": part}, headers=caller.auth)
    return http.post(route, files={"image": part}, headers=caller.auth)


def presign_and_post(caller: Caller, bad: BadFile) -> tuple[str | None, int]:
    """Presign as a JPEG (S3 checks the declared type, not the bytes), POST the bytes.

    Returns:
        ``(image_id, S3 status)``; ``image_id`` is ``None`` when S3 refused the object.
    """
    response = caller.http.post(
        f"/groups/{caller.gid}/uploads",
        json={"files": [{"file_name": bad.file_name, "content_type": "image/jpeg"}]},
        headers=caller.auth,
    )
    assert response.status_code == 200, response.text
    upload = response.json()["uploads"][0]
    s3 = httpx.post(
        upload["url"],
        data=upload["fields"],
        files={"file": (bad.file_name, bad.data, "image/jpeg")},
        timeout=60,
    )
    return (upload["image_id"] if s3.status_code < 300 else None), s3.status_code


SYNC_ROUTES = ("/upload", "/register", "/users/me/selfies", "/get-faces")


def expected(bad: BadFile, route: str) -> set[tuple[int, str | None]]:
    """The answers the rule of docs/errors.md allows for ``bad`` on ``route``."""
    if bad.outcome == "refused":
        return {(bad.status or 0, bad.code)}
    if route == "/upload":
        return {(202, None)}  # stored; digest reports what decoding finds
    if bad.outcome == "undecodable":
        return {(400, "invalid_image")}
    if route == "/get-faces":
        return {(200, None)}
    return {(201, None), (422, "face_requirement")}  # a photo: a selfie needs one face


def digest_outcome(bad: BadFile) -> set[str]:
    """Image status (and reason code) digest must end with for an uploaded ``bad``."""
    if bad.outcome == "photo":
        return {"processed"}
    return {f"failed:{bad.code or 'invalid_image'}"}


def test_the_bad_image_corpus_never_breaks_the_server(
    api_server: Server, faces_dev: Path, unlimited: None
) -> None:
    images = faces_dev / "images"
    files = corpus(images / FACE_PHOTO, max_bytes=MAX_UPLOAD_BYTES)
    with api_server.client() as http:
        doc = OpenApiDocument(http.get("/openapi.json").json())
        caller = Caller(api_server, http, (images / ORGANISER_SELFIE).read_bytes())
        # Given the server warmed up (models loaded, one photo analysed)
        warm = http.post(
            "/get-faces",
            files={"image": ("w.jpg", (images / FACE_PHOTO).read_bytes(), "image/jpeg")},
            headers=caller.auth,
        )
        assert warm.status_code == 200, warm.text
        rss_start = rss_bytes()
        started = time.monotonic()

        # When every file goes to every route that takes a photo
        answers: dict[tuple[str, str], tuple[int, str | None]] = {}
        problems: list[str] = []
        uploaded: dict[str, str] = {}  # image id -> kind
        for bad in files:
            for route in SYNC_ROUTES:
                response = send(caller, route, bad)
                body: Any = response.json()
                problems += doc.problems("POST", route, response.status_code, body)
                code = body.get("code") if response.status_code >= 400 else None
                answers[(bad.kind, route)] = (response.status_code, code)
                if route == "/upload" and response.status_code == 202:
                    uploaded[body["image_ids"][0]] = bad.kind
            image_id, s3_status = presign_and_post(caller, bad)
            if image_id is None:
                answers[(bad.kind, "presigned")] = (s3_status, "refused_by_s3")
            else:
                uploaded[image_id] = bad.kind

        # ... and digest has processed every stored one
        def statuses() -> dict[str, str] | None:
            found: dict[str, str] = {}
            for image_id in uploaded:
                response = http.get(f"/images/{image_id}", headers=caller.auth)
                if response.status_code == 404:
                    return None  # a presigned object whose item digest has not created yet
                image = response.json()
                if image["status"] not in ("processed", "failed"):
                    return None
                reason = (image.get("failure_reason") or "").split(":")[0]
                found[image_id] = image["status"] + (f":{reason}" if reason else "")
            return found

        digested = _poll("digest of the corpus", statuses, 600, every_s=2.0)
        rss_end = rss_bytes()
        seconds = time.monotonic() - started

    # Then no answer is a server error, each is the one the rule gives, and documented
    assert [k for k, (status, _) in answers.items() if status >= 500] == []
    kinds = {bad.kind: bad for bad in files}
    wrong = {
        key: answer
        for key, answer in answers.items()
        if key[1] in SYNC_ROUTES and answer not in expected(kinds[key[0]], key[1])
    }
    assert wrong == {}
    assert problems == []
    # And S3 refuses only what the presigned policy forbids (empty, over the size limit)
    refused_by_s3 = {kind for (kind, route) in answers if route == "presigned"}
    assert refused_by_s3 <= {"empty", "over_max_bytes"}
    # And digest ends every stored file as the rule says, never crashing the worker
    wrong_digest = {
        f"{kinds[uploaded[i]].kind}": status
        for i, status in digested.items()
        if status not in digest_outcome(kinds[uploaded[i]])
    }
    assert wrong_digest == {}
    # And the server's memory stayed within budget
    grown = rss_end - rss_start
    print(f"corpus: {len(files)} files, {seconds:.1f} s, RSS +{grown / 2**20:.0f} MB")
    assert grown < RSS_BUDGET_BYTES, f"RSS grew {grown / 2**20:.0f} MB"
