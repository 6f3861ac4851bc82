"""Helpers for the API integration tests (fixtures are in ``conftest.py``).

API on the local stack: the real app served by uvicorn over HTTP, real models, real photos.

``api_server`` (session) serves :func:`findme.web.app.create_app` on a free port of
127.0.0.1 with the stack's settings, ``findme local run``'s uvicorn config, the in-process
orchestrator (digest/cluster/zip workflows) and the SQS digest poller fed by the bucket's
notifications — what ``findme local run`` does. ``attendee_flow`` (session) then walks the
whole product once, as clients would, and records what it saw; the tests assert on it.
Photos are processed once.
"""

from __future__ import annotations

import csv
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from findme.config import Settings
from findme.local.orchestrator import InProcessOrchestrator
from findme.local.outbox import last_sms
from findme.ports import RateLimiter
from findme.services.auth import code_in_message

#: Upper bound for processing the uploads on a busy 2-core machine, seconds.
PROCESS_TIMEOUT_S = 900.0
#: The attendee is person01 (9 photos): img1.jpg is the selfie, the other 8 are uploaded.
ATTENDEE = "person01"
ATTENDEE_SELFIE = "img1.jpg"
ORGANISER_SELFIE = "img3.jpg"  # person02
GROUP_SHOTS = ("couple.jpg", "selfie-many-people.jpg")
#: Upload limit on the test server: above every faces-dev photo (max 2.5 MB), small enough
#: to test 413 cheaply.
MAX_UPLOAD_BYTES = 4 * 1024 * 1024


@dataclass
class Server:
    base_url: str
    settings: Settings
    orchestrator: InProcessOrchestrator
    app: FastAPI

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=120.0)


@contextmanager
def serving_with(server: Server, limiter: RateLimiter) -> Iterator[None]:
    """The server counts rate limits with ``limiter`` inside the block (its own after)."""
    state = server.app.state
    saved = getattr(state, "rate_limiter", None)
    state.rate_limiter = limiter
    try:
        yield
    finally:
        if saved is None:
            del state.rate_limiter
        else:
            state.rate_limiter = saved


def phone() -> str:
    return f"+1555{uuid.uuid4().int % 10**7:07d}"


def otp_for(server: Server, client: httpx.Client, number: str) -> str:
    """Ask for a code over HTTP, then read it as ``findme local otp`` does (SMS outbox)."""
    response = client.post("/auth/otp", json={"phone_number": number})
    assert response.status_code == 200, response.text
    sms = last_sms(server.settings.local_state_dir, number)
    assert sms is not None
    code = code_in_message(sms.message)
    assert code is not None
    return code


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Flow:
    """What the attendee flow saw (file names map to image ids both ways)."""

    group: dict[str, Any]
    organiser_token: str
    attendee_token: str
    attendee_id: str
    image_of: dict[str, str]  # file name -> image id
    file_of: dict[str, str]  # image id -> file name
    labels: dict[str, str]
    via_presigned: list[str]
    counts: dict[str, int]
    cluster_job: dict[str, Any]
    get_body: dict[str, Any]
    download_status: dict[str, Any]
    zip_bytes: bytes
    seconds: dict[str, float] = field(default_factory=dict)


def _labels(faces_dev: Path) -> dict[str, str]:
    with (faces_dev / "labels.csv").open() as fh:
        return {row["file"]: row["identity"] for row in csv.DictReader(fh)}


def _poll(what: str, probe: Any, timeout_s: float, every_s: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(every_s)
