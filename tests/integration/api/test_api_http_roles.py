"""Roles and the seed features of issue 12 over real HTTP on the local stack, with the real
models on real photos: an organiser adds a photographer (whose selfie has bystanders) who then
uploads and reprocesses but may not curate; a browser's preflight is answered as `make run`
serves it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from api_http_kit import PROCESS_TIMEOUT_S, Flow, Server, _poll, bearer, otp_for, phone
from findme.commands.local_run import uvicorn_config, with_local_cors
from findme.local.stack import free_port
from findme.web.app import create_app


def test_an_organiser_adds_a_photographer_who_then_uploads(
    api_server: Server, attendee_flow: Flow, faces_dev: Path
) -> None:
    images = faces_dev / "images"
    organiser = bearer(attendee_flow.organiser_token)
    with api_server.client() as http:
        gid = http.post("/create-group", json={"group_name": "Crew"}, headers=organiser).json()[
            "group_id"
        ]
        # Given a photographer who registers with a selfie that has people behind her
        number = phone()
        code = otp_for(api_server, http, number)
        registered = http.post(
            "/register",
            data={"name": "Photographer", "phone_number": number, "otp": code},
            files={"selfie": ("me.jpg", (images / "img54.jpg").read_bytes(), "image/jpeg")},
        )
        assert registered.status_code == 201, registered.text  # it was 422 several_faces
        photographer = bearer(registered.json()["access_token"])
        photo = [("files", ("img2.jpg", (images / "img2.jpg").read_bytes(), "image/jpeg"))]
        # And who may not upload to a group she is not in
        refused = http.post("/upload", data={"group_id": gid}, files=photo, headers=photographer)
        assert (refused.status_code, refused.json()["code"]) == (403, "access_denied")
        # When the organiser adds her as photographer
        added = http.post(
            f"/groups/{gid}/members",
            json={"phone_number": number, "role": "photographer"},
            headers=organiser,
        )
        assert (added.status_code, added.json()["role"]) == (201, "photographer")
        # Then she uploads, and her photo is processed
        uploaded = http.post("/upload", data={"group_id": gid}, files=photo, headers=photographer)
        assert uploaded.status_code == 202, uploaded.text
        image_id = uploaded.json()["image_ids"][0]

        def processed() -> dict[str, Any] | None:
            image = http.get(f"/images/{image_id}", headers=photographer).json()
            return image if image["status"] in ("processed", "failed") else None

        image = _poll("the photographer's photo", processed, PROCESS_TIMEOUT_S)
        assert image["status"] == "processed"
        # And the image lists its face with its box, for a viewer
        (face,) = image["faces"]
        assert set(face["facial_area"]) == {"x", "y", "w", "h"}
        # And she reprocesses a face, but curating persons is the organiser's
        again = http.post(f"/faces/{face['face_id']}/reprocess", headers=photographer)
        assert again.status_code == 202, again.text
        cluster = http.post(f"/groups/{gid}/recluster", json={}, headers=photographer)
        assert (cluster.status_code, cluster.json()["need"]) == (403, "curate")
        members = http.get(f"/groups/{gid}/members", headers=organiser).json()["items"]
        assert [(m["name"], m["role"]) for m in members] == [
            ("Organiser", "owner"),
            ("Photographer", "photographer"),
        ]


@pytest.fixture
def local_run_server(api_server: Server) -> Iterator[str]:
    """The API with ``findme local run``'s CORS defaults, served on a free port."""
    port = free_port()
    settings = with_local_cors(api_server.settings.model_copy(update={"port": port}), {})
    server = uvicorn.Server(
        uvicorn_config(create_app(settings), settings, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="cors-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def test_a_browser_preflight_is_answered_locally(local_run_server: str) -> None:
    # Given the web app's dev server origin, When a browser preflights a POST
    preflight = httpx.options(
        f"{local_run_server}/create-group",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    # Then it is allowed (it was 405)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
    version = httpx.get(f"{local_run_server}/", headers={"Origin": local_run_server})
    assert version.headers["access-control-allow-origin"] == local_run_server
    assert version.json()["name"] == "FindMe API"
