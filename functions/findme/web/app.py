"""The FastAPI application factory: one app for API Gateway (via Mangum) and for uvicorn.

``create_app()`` wires, in this order:

1. error handlers (:mod:`findme.web.errors`: the one error shape ``{"detail", "code"}``),
2. middleware: request-body size guard (413, :mod:`findme.web.limits`), the
   ``X-RateLimit-*`` response headers (:mod:`findme.web.ratelimit`) and, outermost, CORS for
   the browser origins of ``Settings.cors_origins`` (the web app on CloudFront, Vite's dev
   server; none: no CORS headers), so preflights and error answers carry the headers too,
3. an app-wide dependency that rate limits every API route per route and caller (the user
   on routes that need a token, else the client address and the body's phone number),
4. the routers of :data:`ROUTERS`, in that order,
5. the OpenAPI document's error responses (:mod:`findme.web.openapi`: one ``ErrorOut``
   schema, every status each operation can answer with),
6. the built web app at ``/`` when ``Settings.web_dir`` holds one (``findme local run``;
   :mod:`findme.web.static`).

Adding routes: write ``findme/web/routes/<name>.py`` exposing ``router = APIRouter(tags=
["<name>"])`` built on the aliases in :mod:`findme.web.deps`, its schemas in
``findme/web/schemas/<name>.py``, and add the router to :data:`ROUTERS` (and its tag to
:data:`OPENAPI_TAGS`).

Face engine in AWS (decision): the api Lambda is deployed as a **container image built
from the same image as digest** (onnxruntime, OpenCV and the models under /opt/models),
with its own handler ``functions/api/handler.py``. Why not invoke the digest Lambda for
``/get-faces``-style calls: a synchronous Lambda invoke caps the payload at 6 MB (≈ 4.5 MB
of JPEG after base64, below our 25 MB upload limit), adds a second cold start and ~50 ms
per call, and duplicates the error mapping; ``/register`` and ``/search-face`` need the
embedding inside the request anyway. The cost is a larger image (≈ 400 MB, fine for
Lambda's 10 GB image limit) and a slower cold start only for the face routes: nothing in
the web layer imports onnxruntime or cv2 at import time; the engine is built lazily by
:meth:`findme.wiring.Wiring.face_engine` on the first face route, so ``/get``, ``/groups`` and
friends start as fast as a zip-packaged function. Locally the engine runs in process.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

import findme
from findme import wiring
from findme.config import Settings, get_settings
from findme.ports import RateLimiter
from findme.web.deps import enforce_rate_limit
from findme.web.errors import install_error_handlers
from findme.web.limits import BodySizeLimitMiddleware
from findme.web.openapi import install_contract
from findme.web.ratelimit import RateLimitHeadersMiddleware
from findme.web.routes import (
    admin,
    auth,
    candidates,
    face_curation,
    faces,
    filters,
    groups,
    health,
    jobs,
    media,
    person_links,
    persons,
    quality,
    sections,
    stats,
)
from findme.web.schemas.health import API_NAME
from findme.web.static import install_web_app

#: The API's routers, included in this order. Order matters where paths overlap: Starlette
#: takes the first route that matches, so ``filters`` (``/faces/duplicates``,
#: ``/faces/outliers``, ``POST /faces/search``) comes before ``face_curation``
#: (``GET /faces/{face_id}`` would otherwise answer ``/faces/duplicates`` with a 404).
ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    auth.router,
    faces.router,
    groups.router,
    media.router,
    jobs.router,
    persons.router,
    person_links.router,
    candidates.router,
    filters.router,
    quality.router,
    face_curation.router,
    sections.router,
    admin.router,
    stats.router,
)

#: Response headers a browser client may read (rate limits, retry hints, downloads).
CORS_EXPOSED_HEADERS = [
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
    "Content-Disposition",
]
#: Seconds a browser may cache a preflight answer.
CORS_MAX_AGE_S = 600

OPENAPI_TAGS: list[dict[str, Any]] = [
    {"name": "auth", "description": "Phone OTP, registration with a selfie, tokens, selfies."},
    {"name": "faces", "description": "Stateless face detection, features and embeddings."},
    {
        "name": "groups",
        "description": "Events/albums, invite codes that carry a role, members and their "
        "roles (member, photographer, owner).",
    },
    {"name": "media", "description": "Uploads, my photos, image metadata, downloads."},
    {"name": "jobs", "description": "Digest, clustering and download jobs."},
    {"name": "health", "description": "Name and version; liveness and dependency checks."},
    {"name": "candidates", "description": '"Is this you?" candidates of the caller.'},
    {
        "name": "persons",
        "description": "Curation: persons, merge, re-cluster.",
    },
    {
        "name": "person_links",
        "description": "Curation: person links, persons linked to users (matching members' "
        "selfies).",
    },
    {
        "name": "filters",
        "description": "Curation: face filters, near duplicates, outliers.",
    },
    {
        "name": "face_curation",
        "description": "Curation: a face's details and crop, moves, batch delete, "
        "reprocessing, group deletion.",
    },
    {"name": "quality", "description": "Curation: face quality review."},
    {"name": "sections", "description": "Sections of a group; filtered image list."},
    {"name": "admin", "description": "Users administration (admins)."},
    {"name": "stats", "description": "Statistics and the DynamoDB/Qdrant consistency check."},
]

DESCRIPTION = """
FindMe finds *your* photos among an event's photos, by face.

**Flow**: `POST /auth/otp` → `POST /register` (selfie + code → `access_token`) →
`POST /groups/{group_id}/join` → `GET /get` → `POST /download`.
Organisers: `POST /create-group` → `POST /groups/{group_id}/uploads` (presigned POSTs) or
`POST /upload` → `GET /groups/{group_id}` (processing counts). Crews: the owner adds a
photographer (`POST /groups/{group_id}/members`, or hands out the photographer invite code
of `POST /groups/{group_id}/invite-codes`); photographers upload, reprocess and delete
faces and photos, owners also curate and administer the group.

**Roles**: one policy decides every route (needs READ, UPLOAD, CURATE, ADMINISTER; see the
`groups` tag); a refusal is always 403 `access_denied` with `need` and `role`.

Send `Authorization: Bearer <access_token>`. Errors are `{"detail": ..., "code": ...}`.
Every route is rate limited: per user on routes that need a token, per client address and
per phone number on the others; see the `X-RateLimit-*` response headers.
"""


def create_app(
    settings: Settings | None = None, *, rate_limiter: RateLimiter | None = None
) -> FastAPI:
    """Build the FindMe API.

    Args:
        settings: web-layer settings (limits, auth, stage); defaults to
            :func:`findme.config.get_settings`. The same object configures the stores: the
            routes get them from its composition root (:func:`findme.wiring.for_settings`,
            the process's root for the process's settings; adapters built on first use).
            Tests may still override ``findme.web.deps`` providers.
        rate_limiter: shared counters for the route limits and the SMS budgets (DynamoDB in
            AWS); default in-memory, per process.

    Returns:
        The app, with Swagger UI at ``/docs`` and the OpenAPI document at ``/openapi.json``.
    """
    settings = settings or get_settings()
    app = FastAPI(
        title=API_NAME,
        version=findme.__version__,
        description=DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        dependencies=[Depends(enforce_rate_limit)],
    )
    app.state.settings = settings
    app.state.wiring = wiring.for_settings(settings)
    if rate_limiter is not None:
        app.state.rate_limiter = rate_limiter
    install_error_handlers(app)
    # Starlette runs the last-added middleware outermost: size guard first, headers around it,
    # CORS around everything (preflights answered first; 413/429 answers carry its headers).
    app.add_middleware(BodySizeLimitMiddleware, settings=settings)
    app.add_middleware(RateLimitHeadersMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            # Bearer tokens, no cookies: credentials stay off (and "*" stays usable).
            allow_credentials=False,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=CORS_MAX_AGE_S,
        )
    for router in ROUTERS:
        app.include_router(router)
    if settings.web_dir is not None:
        install_web_app(app, settings.web_dir)
    install_contract(app)
    return app
