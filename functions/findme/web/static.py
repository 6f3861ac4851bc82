"""The built web app (``make web``: ``web/dist``) served beside the API by ``findme local run``.

In AWS CloudFront serves the app from its own bucket; locally one origin serves both, so the
app calls the API same-origin and needs no CORS. The API's routes stay exactly as they are:

- ``/assets/*`` (Vite's content-hashed files) is a static mount, cached for a year;
- each other file at the top of ``web/dist`` (``sw.js``, the manifest, icons) gets its own
  route, never cached (a service worker must see its new version at once);
- the app's own pages, ``/e/{invite_code}``, ``/me`` and ``/o/...``, answer
  ``index.html`` (the app routes in the browser); every other path is still the API's
  (or its 404/405);
- ``/`` is shared: the API answers its name and version there (``GET /``, JSON), so a
  request to ``/`` whose ``Accept`` names ``text/html`` (a browser navigating) gets
  ``index.html`` and any other (``curl``, a mobile client) the API's JSON.

Plain Starlette routes, not API routes: no OpenAPI entry, no per-route rate limit.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

#: Client-side pages (see ``web/src/routes.ts``) that answer ``index.html``.
APP_PATHS = ("/e/{invite_code}", "/me", "/o", "/o/{rest:path}")
_NO_CACHE = {"Cache-Control": "no-cache"}


class _ImmutableFiles(StaticFiles):
    """Static files whose names carry a content hash: cached for a year."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


class _PageAtRoot:
    """ASGI middleware: ``GET``/``HEAD /`` asking for HTML answers the app's ``index.html``;
    everything else goes on to the API (whose ``GET /`` answers its name and version)."""

    def __init__(self, app: ASGIApp, index: Path) -> None:
        self.app = app
        self.index = index

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == "/"
            and scope["method"] in ("GET", "HEAD")
            and "text/html" in Request(scope).headers.get("accept", "")
        ):
            await FileResponse(self.index, headers=_NO_CACHE)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install_web_app(app: FastAPI, web_dir: Path) -> bool:
    """Serve the built app at ``/`` beside the API (see the module docstring).

    Args:
        app: the API app; its routes keep precedence (these are appended after them).
        web_dir: the build output holding ``index.html`` and ``assets/``.

    Returns:
        Whether the app was installed (``False`` when ``web_dir`` has no ``index.html``).
    """
    index = web_dir / "index.html"
    if not index.is_file():
        return False

    async def page(request: Request) -> Response:
        return FileResponse(index, headers=_NO_CACHE)

    routes: list[Route | Mount] = [
        Route(path, page, methods=["GET", "HEAD"], name=f"web-app:{path}") for path in APP_PATHS
    ]
    for file in sorted(web_dir.iterdir()):
        if file.is_file() and file.name != "index.html":
            routes.append(_file_route(file))
    if (web_dir / "assets").is_dir():
        routes.append(Mount("/assets", _ImmutableFiles(directory=web_dir / "assets")))
    app.router.routes.extend(routes)
    app.add_middleware(_PageAtRoot, index=index)
    return True


def _file_route(file: Path) -> Route:
    async def serve(request: Request) -> Response:
        return FileResponse(file, headers=_NO_CACHE)

    return Route(f"/{file.name}", serve, methods=["GET", "HEAD"], name=f"web-file:{file.name}")
