"""The OpenAPI document tells the truth about errors (issue 11, item 7).

The real app over the shared fakes (tests/fakes); every answer is held to
``/openapi.json`` as a client reads it (:class:`contracts.openapi.OpenApiDocument`): the
status must be documented for the operation and the body must validate against the
documented schema. Bad files come from :mod:`contracts.bad_images` (the rule of
``docs/errors.md``); the real decoder and digest get the same corpus in
``tests/integration/api/test_api_bad_images.py``.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any

import httpx
import pytest
from contracts.bad_images import BadFile, corpus
from contracts.openapi import OpenApiDocument
from fakes import Api, build_api, jpeg, make_settings
from findme.adapters import https_fetch
from findme.domain.records import Role
from findme.services import media
from findme.web.app import create_app
from findme.web.ratelimit import RateLimitState

MAX_BYTES = 256 * 1024
REFUSED = [f for f in corpus(max_bytes=MAX_BYTES) if f.outcome == "refused"]


@pytest.fixture
def small_api(stores: Any) -> Api:
    """The app with a small byte limit, so 'too large' is cheap to send."""
    return build_api(stores, max_upload_bytes=MAX_BYTES)


@pytest.fixture
def doc(api: Api) -> OpenApiDocument:
    return OpenApiDocument(api.client.get("/openapi.json").json())


@pytest.fixture
def world(api: Api) -> dict[str, Any]:
    """An owner with a group holding a photo of one face in one person, a member of it, an
    outsider and an admin; ``ids`` names a real resource for each path parameter."""
    admin = _admin_token(api)
    owner_id, owner, _ = api.register("Owner")
    member_id, member, _ = api.register("Member")
    _, outsider, _ = api.register("Outsider")
    group = api.group(owner)
    api.join(member, group)
    gid = group["group_id"]
    person_id = api.stores.person(gid).person_id
    image = api.stores.image(gid, [api.stores.identity()], [person_id])
    face_id = api.stores.metadata.list_faces_of_image(image.image_id)[0].face_id
    return {
        "admin": admin,
        "owner": owner,
        "owner_id": owner_id,
        "member": member,
        "member_id": member_id,
        "outsider": outsider,
        "gid": gid,
        "ids": {
            "group_id": gid,
            "image_id": image.image_id,
            "face_id": face_id,
            "person_id": person_id,
            "user_id": member_id,
        },
    }


def _admin_token(api: Api) -> str:
    """A token of a fresh user made admin in the store (the stored role is authoritative)."""
    user_id, token, _ = api.register("Admin")
    user = api.stores.metadata.get_user(user_id)
    api.stores.metadata.put_user(dataclasses.replace(user, role=Role.ADMIN))
    return token


def _answer_problems(doc: OpenApiDocument, response: httpx.Response) -> list[str]:
    body = None
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
    return doc.problems(
        response.request.method, response.request.url.path, response.status_code, body
    )


def _path(template: str, world: dict[str, Any]) -> str:
    """A concrete path: the world's resources where it has them (so an admin gets past the
    resource lookups to validation), fresh ids for the rest."""
    ids: dict[str, str] = world["ids"]
    return re.sub(r"\{([^}]+)\}", lambda m: ids.get(m.group(1), str(uuid.uuid4())), template)


def _json_body(operation: dict[str, Any]) -> bool:
    return "application/json" in operation.get("requestBody", {}).get("content", {})


class _Always429:
    def hit(self, key: str, limit: int, window_s: int = 60) -> RateLimitState:
        return RateLimitState(
            limit=limit, remaining=0, reset_at=2_000_000_000, allowed=False, retry_after_s=60
        )


# --- the document ------------------------------------------------------------------------------
def test_every_error_response_uses_the_one_error_schema(doc: OpenApiDocument) -> None:
    # Given the document, When reading every error response of every operation
    components = doc.document["components"]["schemas"]
    wrong = [
        f"{method} {template} {status}"
        for method, template, operation in doc.operations()
        for status, response in operation["responses"].items()
        if int(status) >= 400
        and response.get("content", {}).get("application/json", {}).get("schema")
        != {"$ref": "#/components/schemas/ErrorOut"}
        and template != "/health"
    ]
    # Then each one is ErrorOut, and FastAPI's HTTPValidationError is gone
    assert wrong == []
    assert "HTTPValidationError" not in components
    assert "ErrorOut" in components


def test_every_operation_documents_rate_limits_and_outages(doc: OpenApiDocument) -> None:
    # Given every route is rate limited and reads a store, Then every operation says so
    missing = [
        f"{method} {template} {status}"
        for method, template, operation in doc.operations()
        for status in ("429", "503")
        if status not in operation["responses"]
    ]
    assert missing == []


def test_security_says_which_routes_need_a_token(doc: OpenApiDocument) -> None:
    # Given the sign-up routes and a signed-in one, When reading their security
    open_routes = {
        template for method, template, operation in doc.operations() if "security" not in operation
    }
    # Then only the routes that work without a token say so (a selfie upload slot before
    # registration is opened with the phone's code instead)
    assert open_routes == {
        "/",
        "/health",
        "/auth/otp",
        "/register",
        "/register/selfie-uploads",
        "/auth/token",
    }
    assert doc.operation("GET", "/users/me")["security"] == [{"HTTPBearer": []}]


# --- every operation, probed --------------------------------------------------------------------
def test_every_operation_documents_401_422_429_and_group_refusals(
    api: Api, doc: OpenApiDocument, world: dict[str, Any]
) -> None:
    """Walk every operation of the document and provoke each error class it can answer with:
    no token (401), a stranger on a group (403/404), a JSON array for a JSON body or
    ``limit=0`` (422), a body that is not UTF-8 (400; ``/upload`` parses its own: 422), and
    a rate limiter that refuses (429)."""
    problems: list[str] = []
    provoked: dict[str, set[int]] = {}

    def probe(method: str, path: str, expect: set[int], **kwargs: Any) -> None:
        response = api.client.request(method, path, **kwargs)
        problems.extend(_answer_problems(doc, response))
        if response.status_code not in expect:
            problems.append(f"{method} {path}: {response.status_code} not in {sorted(expect)}")
        provoked.setdefault(f"{method} {doc.template(method, path)}", set()).add(
            response.status_code
        )

    for method, template, operation in doc.operations():
        path = _path(template, world)
        if "security" in operation:
            probe(method, path, {401})
        if "{group_id}" in template:
            probe(method, path, {403, 404, 422}, headers=api.auth(world["outsider"]))
        if _json_body(operation):
            probe(method, path, {422}, headers=api.auth(world["admin"]), json=[])
            probe(
                method,
                path,
                {400, 422} if template == "/upload" else {400},
                headers={**api.auth(world["admin"]), "content-type": "application/json"},
                content=b'{"a": "\xc3\x28"}',  # invalid UTF-8 (FastAPI: 400)
            )
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        if "limit" in names:
            probe(method, path, {422}, headers=api.auth(world["admin"]), params={"limit": 0})

    api.client.app.state.rate_limiter = _Always429()  # type: ignore[attr-defined]
    for method, template, _ in doc.operations():
        probe(method, _path(template, world), {429}, headers=api.auth(world["owner"]))

    assert problems == []
    assert len(provoked) == len(doc.operations())


#: Every operation with a ``limit`` query parameter (issue 11 saw ``?limit=0`` break the 422).
LIMITED = sorted(
    (method, template)
    for method, template, operation in OpenApiDocument(
        create_app(make_settings()).openapi()
    ).operations()
    if any(p["name"] == "limit" for p in operation.get("parameters", []))
)


@pytest.mark.parametrize(("method", "template"), LIMITED, ids=[f"{m} {t}" for m, t in LIMITED])
def test_limit_zero_is_a_422_with_the_documented_body(
    api: Api, doc: OpenApiDocument, world: dict[str, Any], method: str, template: str
) -> None:
    # Given an admin (past every role check), When asking for zero items per page
    response = api.client.request(
        method, _path(template, world), params={"limit": 0}, headers=api.auth(world["admin"])
    )
    # Then it is 422 validation_error, and the body is what the document says a 422 is
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert ["query", "limit"] in [e["loc"] for e in body["errors"]]
    assert _answer_problems(doc, response) == []


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "code"),
    [
        ("GET", "/get", {"params": {"phone_number": "not-a-phone"}}, "invalid_phone_number"),
        ("POST", "/auth/otp", {"json": {"phone_number": "not-a-phone"}}, "invalid_phone_number"),
        (
            "POST",
            "/auth/token",
            {"json": {"phone_number": "not-a-phone", "otp": "123456"}},
            "invalid_phone_number",
        ),
        ("POST", "/create-group", {"json": {"group_name": "   "}}, "invalid_input"),
        ("POST", "/download", {"content": b'{"a": "\xc3\x28"}'}, "bad_request"),
        ("POST", "/groups/{gid}/uploads", {"content": b'{"a": "\xc3\x28"}'}, "bad_request"),
    ],
)
def test_the_400s_users_saw_are_documented(
    api: Api,
    doc: OpenApiDocument,
    world: dict[str, Any],
    method: str,
    path: str,
    kwargs: dict[str, Any],
    code: str,
) -> None:
    # Given the owner, When sending what gave an undocumented 400 in issue 11
    headers = {**api.auth(world["owner"]), "content-type": "application/json"}
    response = api.client.request(method, path.format(gid=world["gid"]), headers=headers, **kwargs)
    # Then it is still 400, and now documented with its body
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert _answer_problems(doc, response) == []


# --- one status per kind of bad file -------------------------------------------------------------
def _send(api: Api, route: str, bad: BadFile, world: dict[str, Any], phone: str) -> httpx.Response:
    owner = api.auth(world["owner"])
    part = (bad.file_name, bad.data, bad.content_type)
    if route == "/upload":
        return api.client.post(
            "/upload", data={"group_id": world["gid"]}, files=[("files", part)], headers=owner
        )
    if route == "/upload (drive_url)":
        return api.client.post(
            "/upload",
            json={
                "group_id": world["gid"],
                "drive_url": "https://drive.google.com/file/d/abcdefghijk/view",
            },
            headers=owner,
        )
    if route == "/register":
        return api.client.post(
            "/register",
            data={"name": "Bad File", "phone_number": phone, "otp": api.sms.last_code(phone)},
            files={"selfie": part},
        )
    if route == "/users/me/selfies":
        return api.client.post("/users/me/selfies", files={"selfie": part}, headers=owner)
    return api.client.post(route, files={"image": part}, headers=owner)


ROUTES = [
    "/upload",
    "/upload (drive_url)",
    "/register",
    "/users/me/selfies",
    "/get-faces",
    "/get-features",
    "/get-embedding",
    "/search-face",
]


@pytest.mark.parametrize("bad", REFUSED, ids=[f.kind for f in REFUSED])
def test_a_bad_file_gets_one_status_on_every_route(
    small_api: Api, bad: BadFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a bad file, and a Drive link that would fetch it
    api = small_api
    doc = OpenApiDocument(api.client.get("/openapi.json").json())
    _, owner, _ = api.register("Owner")
    world = {"owner": owner, "gid": api.group(owner)["group_id"]}
    monkeypatch.setattr(https_fetch, "fetch_https", lambda *a, **k: (bad.data, bad.file_name))
    phone = f"+1415{uuid.uuid4().int % 10**7:07d}"
    assert api.client.post("/auth/otp", json={"phone_number": phone}).status_code == 200
    # When it is sent to every route that takes a photo
    answers = {route: _send(api, route, bad, world, phone) for route in ROUTES}
    # Then every route gives the same status and code, as documented
    assert {r: (a.status_code, a.json()["code"]) for r, a in answers.items()} == {
        r: (bad.status, bad.code) for r in ROUTES
    }
    assert [p for a in answers.values() for p in _answer_problems(doc, a)] == []
    # And nothing was stored
    assert api.stores.metadata.list_images(world["gid"]).items == []


@pytest.mark.parametrize(
    ("content_type", "size", "status", "code"),
    [
        ("image/svg+xml", None, 415, "unsupported_media_type"),
        ("image/tiff", None, 415, "unsupported_media_type"),
        ("image/jpeg", MAX_BYTES + 1, 413, "image_too_large"),
    ],
)
def test_presigned_uploads_refuse_what_multipart_refuses(
    small_api: Api, content_type: str, size: int | None, status: int, code: str
) -> None:
    # Given an owner, When asking to presign a file of a refused type or size
    api = small_api
    _, owner, _ = api.register("Owner")
    gid = api.group(owner)["group_id"]
    response = api.client.post(
        f"/groups/{gid}/uploads",
        json={"files": [{"file_name": "x", "content_type": content_type, "size_bytes": size}]},
        headers=api.auth(owner),
    )
    # Then the status and code are those multipart gives for such a file
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_a_whole_photo_passes_every_check() -> None:
    # Given a real JPEG, When checked, Then it passes (the checks refuse only bad files)
    checked = media.check_image(jpeg(64, 48), "ok.jpg", make_settings())
    assert (checked.ext, checked.width, checked.height) == (".jpg", 64, 48)


#: The operations issue 12 added: each documents its success body with an example.
ISSUE_12_OPERATIONS = [
    ("GET", "/"),
    ("PATCH", "/groups/{group_id}"),
    ("POST", "/groups/{group_id}/invite-codes"),
    ("GET", "/groups/{group_id}/members"),
    ("POST", "/groups/{group_id}/members"),
    ("GET", "/groups/{group_id}/members/{user_id}"),
    ("PATCH", "/groups/{group_id}/members/{user_id}"),
    ("DELETE", "/groups/{group_id}/members/{user_id}"),
    ("GET", "/users/{user_id}/selfies"),
    ("DELETE", "/users/{user_id}/selfies/{face_id}"),
    ("GET", "/groups/{group_id}/cluster-status"),
    ("GET", "/users/{user_id}/person-links/stats"),
    ("GET", "/images/{image_id}"),
    ("GET", "/groups/{group_id}/sections"),
    ("POST", "/faces/filter"),
    ("POST", "/faces/batch-delete"),
]


def _resolve(doc: OpenApiDocument, schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    resolved: dict[str, Any] = doc.document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return resolved


@pytest.mark.parametrize(("method", "template"), ISSUE_12_OPERATIONS)
def test_new_operations_carry_examples(doc: OpenApiDocument, method: str, template: str) -> None:
    # Given an operation issue 12 added, When reading its success answer in the document
    operation = doc.operation(method, template)
    ok = next(r for status, r in operation["responses"].items() if status.startswith("2"))
    content = ok["content"]["application/json"]
    schema = _resolve(doc, content.get("schema", {}))
    # Then it has an example (on the body, or on the items of a page)
    items = _resolve(doc, schema.get("properties", {}).get("items", {}).get("items", {}))
    assert "example" in content or "examples" in schema or "examples" in items, template
    # And a body it takes has one too
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        assert "examples" in _resolve(doc, body["schema"]), template


def test_every_schema_has_a_name_of_its_own(doc: OpenApiDocument) -> None:
    # Given the document's schemas, Then none is FastAPI's generated form body name
    # (Body_<operation id>) nor a name carrying a module path (findme__...)
    names = list(doc.document["components"]["schemas"])
    assert [n for n in names if n.startswith("Body_") or "__" in n] == []
    # And each multipart body FastAPI reads is a named form schema, fields as before (POST
    # /upload reads its form itself and documents it inline, in openapi_extra)
    multipart = {
        template: operation["requestBody"]["content"]["multipart/form-data"]["schema"]
        for _, template, operation in doc.operations()
        if "multipart/form-data" in operation.get("requestBody", {}).get("content", {})
    }
    forms = {t: s["$ref"].rsplit("/", 1)[-1] for t, s in multipart.items() if t != "/upload"}
    assert forms == {
        "/register": "RegisterForm",
        "/users/me/selfies": "AddSelfieForm",
        "/get-faces": "FaceImageForm",
        "/get-features": "FaceImageForm",
        "/get-embedding": "FaceImageForm",
        "/search-face": "SearchFaceForm",
    }
    fields = {
        n: set(doc.document["components"]["schemas"][n]["properties"]) for n in forms.values()
    }
    assert fields == {
        "RegisterForm": {"name", "phone_number", "otp", "selfie", "selfie_key"},
        "AddSelfieForm": {"selfie", "selfie_key"},
        "FaceImageForm": {"image", "selfie_key"},
        "SearchFaceForm": {"image", "selfie_key", "confidence", "group_id", "limit"},
    }
