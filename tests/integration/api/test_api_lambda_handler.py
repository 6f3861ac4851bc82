"""``functions/api/handler.py`` invoked as Lambda would, with API Gateway HTTP API (v2) and
REST API (v1) proxy events, on the local stack (Mangum -> FastAPI -> real stores)."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_gateway_events import v1_event, v2_event
from api_http_kit import Flow, Server
from findme.local.orchestrator import LocalContext, load_handler

pytestmark = [pytest.mark.integration, pytest.mark.models]


def _context() -> LocalContext:
    return LocalContext(function_name="findme-api", aws_request_id=str(uuid.uuid4()))


def _json(response: dict[str, Any]) -> Any:
    raw = response["body"]
    if response.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode()
    return json.loads(raw)


def _headers(response: dict[str, Any]) -> dict[str, str]:
    merged = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for k, values in (response.get("multiValueHeaders") or {}).items():
        merged.setdefault(k.lower(), values[0])
    return merged


@pytest.fixture(scope="module")
def handler(api_server: Server) -> Any:
    return load_handler("api")


def test_http_api_v2_events(handler: Any, attendee_flow: Flow) -> None:
    # Given the attendee's token from the HTTP flow
    auth = {"authorization": f"Bearer {attendee_flow.attendee_token}"}
    # When the handler gets v2 events
    me = handler(v2_event("GET", "/users/me", headers=auth), _context())
    groups = handler(v2_event("GET", "/groups", headers=auth), _context())
    missing = handler(v2_event("GET", "/groups"), _context())
    photos = handler(v2_event("GET", "/get", headers=auth, query=""), _context())
    # Then they are answered by the app with the same data and error shape
    assert me["statusCode"] == 200
    assert _json(me)["user_id"] == attendee_flow.attendee_id
    assert _json(groups)["groups"][0]["group_id"] == attendee_flow.group["group_id"]
    assert _headers(groups)["x-ratelimit-limit"]
    assert missing["statusCode"] == 401
    assert _json(missing)["code"] == "missing_token"
    assert len(_json(photos)["personal_images"]) == len(attendee_flow.get_body["personal_images"])


def test_http_api_v2_multipart_face_route(
    handler: Any, attendee_flow: Flow, faces_dev: Path
) -> None:
    # Given a multipart body as API Gateway delivers it (base64)
    photo = (faces_dev / "images" / "couple.jpg").read_bytes()
    request = httpx.Request(
        "POST", "https://x/get-faces", files={"image": ("couple.jpg", photo, "image/jpeg")}
    )
    body = request.read()
    headers = {
        "authorization": f"Bearer {attendee_flow.organiser_token}",
        "content-type": request.headers["content-type"],
        "content-length": str(len(body)),
    }
    # When posted through the handler
    response = handler(v2_event("POST", "/get-faces", headers=headers, body=body), _context())
    # Then the real engine finds the couple
    assert response["statusCode"] == 200, response["body"][:500]
    assert len(_json(response)["faces"]) == 2


def test_rest_api_v1_events(handler: Any, attendee_flow: Flow) -> None:
    auth = {"Authorization": f"Bearer {attendee_flow.organiser_token}"}
    gid = attendee_flow.group["group_id"]
    group = handler(v1_event("GET", f"/groups/{gid}", headers=auth), _context())
    assert group["statusCode"] == 200
    assert _json(group)["image_counts"]["processed"] == attendee_flow.counts["processed"]
    # A member is refused organiser-only data (403), bad JSON is 422 in the same shape
    member = {"Authorization": f"Bearer {attendee_flow.attendee_token}"}
    image_id = next(iter(attendee_flow.image_of.values()))
    refused = handler(v1_event("GET", f"/images/{image_id}", headers=member), _context())
    assert refused["statusCode"] == 403
    bad = handler(
        v1_event(
            "POST",
            "/create-group",
            headers={**auth, "Content-Type": "application/json"},
            body='{"group_name": ',
        ),
        _context(),
    )
    assert bad["statusCode"] == 422
    assert _json(bad)["code"] == "validation_error"
    created = handler(
        v1_event(
            "POST",
            "/create-group",
            headers={**auth, "Content-Type": "application/json"},
            body=json.dumps({"group_name": "Via REST API", "description": ""}),
        ),
        _context(),
    )
    assert created["statusCode"] == 201
    assert _json(created)["group_name"] == "Via REST API"


def test_rate_limits_count_the_source_ip_not_x_forwarded_for(handler: Any) -> None:
    """Given the api handler behind API Gateway (HTTP API, payload 2.0), when events from one
    ``requestContext.http.sourceIp`` carry made-up X-Forwarded-For headers, then they count
    in one bucket, and another source IP has its own (issue 11: keys by client address)."""
    body = json.dumps({"phone_number": "not-a-phone"}).encode()  # 400, counted per address
    source = f"198.51.100.{uuid.uuid4().int % 200 + 1}"

    def remaining(source_ip: str, forwarded_for: str) -> int:
        headers = {"content-type": "application/json", "x-forwarded-for": forwarded_for}
        event = v2_event("POST", "/auth/otp", headers=headers, body=body, source_ip=source_ip)
        response = handler(event, _context())
        assert response["statusCode"] == 400, response["body"]
        return int(_headers(response)["x-ratelimit-remaining"])

    counted = [remaining(source, f"192.0.2.{i}, {source}") for i in range(3)]
    assert counted == [counted[0], counted[0] - 1, counted[0] - 2]
    assert remaining("203.0.113.250", "192.0.2.9") > counted[-1]
