"""Fixtures for the API integration tests: ``api_server`` and ``attendee_flow`` (session).

See :mod:`api_http_kit` for what they do; helpers live there so test modules can import them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from api_http_kit import (
    ATTENDEE_SELFIE,
    GROUP_SHOTS,
    MAX_UPLOAD_BYTES,
    ORGANISER_SELFIE,
    PROCESS_TIMEOUT_S,
    Flow,
    Server,
    _labels,
    _poll,
    bearer,
    otp_for,
    phone,
)
from findme import wiring
from findme.commands.local_run import uvicorn_config
from findme.local.orchestrator import InProcessOrchestrator
from findme.local.stack import StackHandle, free_port
from findme.local.worker import start_workers
from findme.web import deps
from findme.web.app import create_app


@pytest.fixture(scope="session")
def api_server(local_stack: StackHandle, model_dir: Path) -> Iterator[Server]:
    settings = local_stack.settings(
        rate_limit_per_minute=100_000, max_upload_bytes=MAX_UPLOAD_BYTES, local_workers=True
    )
    # Build the process-wide adapters once, before any thread races to (wiring's lru_caches
    # are not locked, and Qdrant local mode refuses a second client on the same path).
    wiring.vector_index()
    wiring.metadata_store()
    wiring.object_store()
    wiring.face_engine()
    orchestrator = InProcessOrchestrator(settings)
    app = create_app(settings)
    app.dependency_overrides[deps.orchestrator] = lambda: orchestrator
    port = free_port()
    # Served as `findme local run` serves it (proxy headers only from trusted proxies).
    server = uvicorn.Server(
        uvicorn_config(app, settings, port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="api-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the API server did not start")
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", settings, orchestrator, app)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        orchestrator.shutdown(wait=False)


@pytest.fixture(scope="module", autouse=True)
def api_workers(api_server: Server) -> Iterator[None]:
    """The digest queue's poller, for one test module at a time.

    Other tiers run their own pollers on the same queue (pipelines, curation); pollers that
    live per module never overlap, whatever order the modules run in.
    """
    stop_workers = start_workers(api_server.settings, wait_s=1, auto_cluster=False)
    try:
        yield
    finally:
        stop_workers()


@pytest.fixture(scope="session")
def attendee_flow(api_server: Server, faces_dev: Path) -> Flow:
    """The whole attendee flow once per session, with its own poller (session fixtures are
    set up before the module's ``api_workers``)."""
    stop_workers = start_workers(api_server.settings, wait_s=1, auto_cluster=False)
    try:
        return _attendee_flow(api_server, faces_dev)
    finally:
        stop_workers()


def _attendee_flow(api_server: Server, faces_dev: Path) -> Flow:
    labels = _labels(faces_dev)
    images_dir = faces_dev / "images"
    seconds: dict[str, float] = {}
    with api_server.client() as http:
        # --- the organiser registers and creates a group
        organiser_phone = phone()
        code = otp_for(api_server, http, organiser_phone)
        response = http.post(
            "/register",
            data={"name": "Organiser", "phone_number": organiser_phone, "otp": code},
            files={
                "selfie": (
                    ORGANISER_SELFIE,
                    (images_dir / ORGANISER_SELFIE).read_bytes(),
                    "image/jpeg",
                )
            },
        )
        assert response.status_code == 201, response.text
        organiser = bearer(response.json()["access_token"])
        response = http.post(
            "/create-group",
            json={"group_name": "Gala", "description": "faces-dev"},
            headers=organiser,
        )
        assert response.status_code == 201, response.text
        group = response.json()
        gid = group["group_id"]

        # --- photos: half multipart (batches of 8), half presigned POSTs straight to S3
        files = sorted(p.name for p in images_dir.iterdir() if p.name != ATTENDEE_SELFIE)
        multipart, presigned = files[::2], files[1::2]
        started = time.monotonic()
        image_of: dict[str, str] = {}
        for i in range(0, len(multipart), 8):
            batch = multipart[i : i + 8]
            response = http.post(
                "/upload",
                data={"group_id": gid},
                files=[("files", (n, (images_dir / n).read_bytes(), "image/jpeg")) for n in batch],
                headers=organiser,
            )
            assert response.status_code == 202, response.text
            assert response.json()["message"] == "Upload complete. Processing has been triggered."
            image_of.update(zip(batch, response.json()["image_ids"], strict=True))
        response = http.post(
            f"/groups/{gid}/uploads",
            json={"files": [{"file_name": n, "content_type": "image/jpeg"} for n in presigned]},
            headers=organiser,
        )
        assert response.status_code == 200, response.text
        for upload in response.json()["uploads"]:
            name = upload["file_name"]
            s3 = httpx.post(
                upload["url"],
                data=upload["fields"],
                files={"file": (name, (images_dir / name).read_bytes(), "image/jpeg")},
                timeout=60,
            )
            assert s3.status_code in (200, 201, 204), s3.text
            image_of[name] = upload["image_id"]
        seconds["upload"] = time.monotonic() - started

        # --- wait until every photo is processed (or failed), as a client would poll
        def done() -> dict[str, int] | None:
            counts = http.get(f"/groups/{gid}", headers=organiser).json()["image_counts"]
            finished = counts["processed"] + counts["failed"]
            return counts if counts["total"] == len(files) and finished == len(files) else None

        counts = _poll("processing", done, PROCESS_TIMEOUT_S, every_s=2.0)
        seconds["process"] = time.monotonic() - started

        # --- cluster the group's faces into persons (202, then poll the job)
        response = http.post("/cluster-faces", json={"group_id": gid}, headers=organiser)
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]

        def cluster_done() -> dict[str, Any] | None:
            job = http.get(f"/jobs/{job_id}", headers=organiser).json()
            return job if job["status"] in ("succeeded", "failed") else None

        cluster_job = _poll("clustering", cluster_done, 300)

        # --- group shots become the common photos
        response = http.post(
            "/update-group",
            json={"group_id": gid, "common_photo_ids": [image_of[n] for n in GROUP_SHOTS]},
            headers=organiser,
        )
        assert response.status_code == 200, response.text

        # --- the attendee registers with a selfie, joins, and asks for their photos
        attendee_phone = phone()
        code = otp_for(api_server, http, attendee_phone)
        response = http.post(
            "/register",
            data={"name": "Attendee", "phone_number": attendee_phone, "otp": code},
            files={"selfie": ("me.jpg", (images_dir / ATTENDEE_SELFIE).read_bytes(), "image/jpeg")},
        )
        assert response.status_code == 201, response.text
        attendee_id = response.json()["user_id"]
        attendee = bearer(response.json()["access_token"])
        response = http.post(
            f"/groups/{gid}/join", json={"invite_code": group["invite_code"]}, headers=attendee
        )
        assert response.status_code == 200, response.text
        started = time.monotonic()
        response = http.get("/get", headers=attendee)
        assert response.status_code == 200, response.text
        seconds["get"] = time.monotonic() - started
        body = response.json()

        # --- download them all as a ZIP
        wanted = [p["image_id"] for p in body["personal_images"]] + [
            c["image_id"] for c in body["common_images"]
        ]
        response = http.post("/download", json={"image_ids": wanted}, headers=attendee)
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "pending"
        download_id = response.json()["job_id"]

        def ready() -> dict[str, Any] | None:
            status = http.get(f"/download/{download_id}", headers=attendee).json()
            return status if status["status"] in ("ready", "failed") else None

        download_status = _poll("the ZIP", ready, 300)
        zip_bytes = b""
        if download_status["status"] == "ready":
            zip_bytes = httpx.get(download_status["url"], timeout=60).content

    return Flow(
        group=group,
        organiser_token=organiser["Authorization"].split()[1],
        attendee_token=attendee["Authorization"].split()[1],
        attendee_id=attendee_id,
        image_of=image_of,
        file_of={v: k for k, v in image_of.items()},
        labels=labels,
        via_presigned=presigned,
        counts=counts,
        cluster_job=cluster_job,
        get_body=body,
        download_status=download_status,
        zip_bytes=zip_bytes,
        seconds=seconds,
    )
