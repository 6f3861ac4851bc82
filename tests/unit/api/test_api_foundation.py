"""The web foundation through the real app: error shape, validation, body-size guard, auth
failures, rate-limit headers and 429, OpenAPI completeness."""

from __future__ import annotations

import jwt
import pytest
from fakes import SECRET, Api, World, build_api, jpeg, make_settings
from fastapi import APIRouter
from fastapi.testclient import TestClient
from findme.errors import (
    ConflictError,
    DependencyError,
    FaceRequirementError,
    FindMeError,
    ImageTooLargeError,
    InvalidImageError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    UnsupportedMediaTypeError,
)
from findme.web import deps
from findme.web.app import create_app
from findme.web.errors import status_for


def test_domain_errors_map_to_statuses_in_one_place() -> None:
    cases = {
        InvalidImageError("x"): 400,
        InvalidInputError("x"): 400,
        InvalidInputError("x", code="too_many_files"): 422,
        ImageTooLargeError("x"): 413,
        ImageTooLargeError("x", code="image_pixels_exceeded"): 413,
        UnsupportedMediaTypeError("x"): 415,
        FaceRequirementError("x"): 422,
        NotFoundError("x"): 404,
        ConflictError("x"): 409,
        PermissionDeniedError("x"): 403,
        DependencyError("x"): 503,
        FindMeError("x"): 500,
    }
    assert {type(e).__name__ + e.code: status_for(e) for e in cases} == {
        type(e).__name__ + e.code: s for e, s in cases.items()
    }


def test_every_error_has_detail_and_code(api: Api) -> None:
    # Given an unknown path, a wrong method, a missing token and a bad body
    responses = [
        api.client.get("/no-such-path"),
        api.client.delete("/create-group"),
        api.client.get("/groups"),
        api.client.post("/auth/otp", json={"phone": 1}),
    ]
    # Then each answer has the shared shape with the expected status and code
    assert [(r.status_code, r.json()["code"]) for r in responses] == [
        (404, "not_found"),
        (405, "method_not_allowed"),
        (401, "missing_token"),
        (422, "validation_error"),
    ]
    assert all(isinstance(r.json()["detail"], str) for r in responses)
    assert responses[2].headers["www-authenticate"] == "Bearer"
    assert responses[3].json()["errors"][0]["loc"] == ["body", "phone_number"]


def test_unexpected_errors_are_500_without_internals(stores: World) -> None:
    # Given a route that crashes with a non-domain error
    app = create_app(make_settings())
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    app.include_router(router)
    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    # Then the client sees a generic 500 in the shared shape
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error", "code": "internal_error"}


def test_malformed_json_is_422_not_500(api: Api) -> None:
    response = api.client.post(
        "/auth/otp", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_declared_oversize_body_is_refused_before_reading(stores: World) -> None:
    # Given a 2,000-byte upload limit (so bodies over ~1 MiB + 2,000 B are refused)
    api = build_api(stores, max_upload_bytes=2_000)
    body = b"x" * (1024 * 1024 + 2_001)
    # When a bigger body is posted with its Content-Length
    response = api.client.post("/get-faces", content=body, headers={"content-type": "image/jpeg"})
    # Then 413 in the shared shape
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_streamed_oversize_body_is_refused(stores: World) -> None:
    # Given a chunked body (no Content-Length) over the limit
    api = build_api(stores, max_upload_bytes=2_000)

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"y" * 32_768

    response = api.client.post(
        "/auth/otp", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_bad_tokens_are_401(api: Api) -> None:
    # Given an expired token, one signed with another key, one for a deleted user, garbage
    user_id, token, _ = api.register()
    now = 1_700_000_000
    expired = jwt.encode(
        {"sub": user_id, "iss": "findme", "aud": "findme-app", "iat": now, "exp": now + 60},
        SECRET,
        "HS256",
    )
    other_key = jwt.encode(
        {
            "sub": user_id,
            "iss": "findme",
            "aud": "findme-app",
            "iat": 2_000_000_000,
            "exp": 4_000_000_000,
        },
        "k" * 40,
        "HS256",
    )
    ghost = jwt.encode(
        {
            "sub": "no-such-user",
            "iss": "findme",
            "aud": "findme-app",
            "iat": 2_000_000_000,
            "exp": 4_000_000_000,
        },
        SECRET,
        "HS256",
    )
    codes = []
    for bad in (expired, other_key, ghost, "garbage"):
        response = api.client.get("/groups", headers=api.auth(bad))
        assert response.status_code == 401
        codes.append(response.json()["code"])
    assert codes == ["token_expired", "invalid_token", "invalid_token", "invalid_token"]
    # And a Basic header is not a bearer token
    assert api.client.get("/groups", headers={"Authorization": "Basic abc"}).status_code == 401
    # While the good token works
    assert api.client.get("/groups", headers=api.auth(token)).status_code == 200


def test_rate_limit_headers_and_429(stores: World) -> None:
    # Given a limit of 3 requests per minute per caller and route
    api = build_api(stores, rate_limit_per_minute=3)
    _, token, _ = api.register()
    headers = api.auth(token)
    # When a caller makes 4 calls to one route
    answers = [api.client.get("/groups", headers=headers) for _ in range(4)]
    # Then the headers count down and the 4th call is 429 with Retry-After
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert all(r.headers["x-ratelimit-limit"] == "3" for r in answers)
    assert int(answers[3].headers["retry-after"]) >= 1
    assert answers[3].json()["code"] == "rate_limited"
    # And another route is counted separately
    assert api.client.get("/users/me", headers=headers).status_code == 200


def test_openapi_lists_the_seed_routes_with_examples(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, method in [
        ("/get-faces", "post"),
        ("/get-features", "post"),
        ("/get-embedding", "post"),
        ("/search-face", "post"),
        ("/digest", "post"),
        ("/cluster-faces", "post"),
        ("/register", "post"),
        ("/auth/otp", "post"),
        ("/auth/token", "post"),
        ("/users/me/selfies", "post"),
        ("/users/me", "delete"),
        ("/create-group", "post"),
        ("/groups", "get"),
        ("/groups/{group_id}", "get"),
        ("/groups/{group_id}/join", "post"),
        ("/upload", "post"),
        ("/groups/{group_id}/uploads", "post"),
        ("/get", "get"),
        ("/images/{image_id}", "put"),
        ("/update-group", "post"),
        ("/download", "post"),
        ("/download/{job_id}", "get"),
        ("/jobs/{job_id}", "get"),
        ("/health", "get"),
    ]:
        assert method in paths[path], (path, method)
    assert "multipart/form-data" in paths["/upload"]["post"]["requestBody"]["content"]
    assert "application/json" in paths["/upload"]["post"]["requestBody"]["content"]
    assert spec["components"]["schemas"]["GetOut"]["examples"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert api.client.get("/docs").status_code == 200


def test_dynamodb_rate_limiter_counts_across_instances_and_fails_open() -> None:
    import boto3
    from findme.adapters.ratelimit import DynamoRateLimiter
    from moto import mock_aws

    with mock_aws():
        settings = make_settings(table_prefix="rl-")
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="rl-rate-limits",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        )
        # Given two limiter instances (two Lambdas) at the same instant
        first = DynamoRateLimiter(settings, clock=lambda: 120.0)
        second = DynamoRateLimiter(settings, clock=lambda: 121.0)
        # When the same caller hits 3 times with a limit of 2
        states = [first.hit("k", 2), second.hit("k", 2), first.hit("k", 2)]
        # Then the count is shared, and the window resets at the next minute
        assert [s.allowed for s in states] == [True, True, False]
        assert [s.remaining for s in states] == [1, 0, 0]
        assert states[0].reset_at == 180
        assert DynamoRateLimiter(settings, clock=lambda: 181.0).hit("k", 2).allowed
        # And without its table it lets requests through
        missing = DynamoRateLimiter(make_settings(table_prefix="none-"), clock=lambda: 1.0)
        assert missing.hit("k", 1).allowed


def test_face_routes_without_the_engine_installed_are_503(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment whose image lacks onnxruntime (the import fails)
    def missing() -> None:
        raise ModuleNotFoundError("No module named 'onnxruntime'", name="onnxruntime")

    _, token, _ = api.register()
    monkeypatch.setattr(api.client.app.state.wiring, "face_engine", missing)  # type: ignore[attr-defined]
    del api.client.app.dependency_overrides[deps.face_engine]  # type: ignore[attr-defined]
    # When a face route is called / Then 503 in the shared shape, not a 500
    response = api.client.post(
        "/get-faces", files={"image": ("a.jpg", jpeg(), "image/jpeg")}, headers=api.auth(token)
    )
    assert response.status_code == 503
    assert response.json()["code"] == "face_engine_unavailable"
