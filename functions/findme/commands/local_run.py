"""``findme local run``: the whole system on this machine (what ``make run`` calls).

Starts the local stack (or reuses one started by ``findme local up``), points this process
at it, hands on the work a crashed run left unfinished (:mod:`findme.local.recovery`: the
stack's state is on disk under the state directory and survives ``kill -9``), starts the
digest worker (SQS poller fed by the bucket's notifications) and the
in-process orchestrator, then serves the API with uvicorn on ``127.0.0.1:FINDME_PORT``
(8080) until Ctrl-C, with the web app built by ``make web`` (``web/dist``, or
``FINDME_WEB_DIR``) at ``/``, and stops everything it started. ``X-Forwarded-For`` is believed only
from ``FINDME_TRUSTED_PROXIES`` (:func:`uvicorn_config`).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from findme import wiring
from findme.config import REPO_ROOT, Settings, get_settings
from findme.observability import logger

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp

HOST = "127.0.0.1"
#: Vite's dev server (the web app's ``npm run dev``), allowed by default on ``make run``.
VITE_DEV_ORIGIN = "http://localhost:5173"


def local_cors_origins(port: int) -> list[str]:
    """The browser origins ``findme local run`` allows when ``FINDME_CORS_ORIGINS`` is
    unset: the API's own origin (by address and by ``localhost``) and Vite's dev server."""
    return [f"http://{HOST}:{port}", f"http://localhost:{port}", VITE_DEV_ORIGIN]


def register_local(local_subparsers: Any) -> None:
    run = local_subparsers.add_parser(
        "run", help="start the local stack, the workers and the API (until Ctrl-C)"
    )
    run.add_argument("--port", type=int, default=None, help="API port (default FINDME_PORT, 8080)")
    run.add_argument("--state-dir", type=Path, default=None, help="local stack state directory")
    run.set_defaults(func=_run)


def with_local_cors(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """``settings`` with :func:`local_cors_origins` allowed, unless the environment sets
    ``FINDME_CORS_ORIGINS`` itself (empty: no CORS)."""
    if "FINDME_CORS_ORIGINS" in environ:
        return settings
    return settings.model_copy(update={"cors_origins": local_cors_origins(settings.port)})


def uvicorn_config(app: ASGIApp, settings: Settings, **options: Any) -> uvicorn.Config:
    """uvicorn's config for the API on ``127.0.0.1:Settings.port`` (``findme local run``).

    uvicorn rewrites the client address from ``X-Forwarded-For`` when the TCP peer is in
    ``forwarded_allow_ips``, which defaults to 127.0.0.1: any local client could then choose
    the address its rate limits are counted under. Proxy headers are therefore read only
    from ``Settings.trusted_proxies`` (none by default, ``proxy_headers=False``).

    Args:
        app: the ASGI app (:func:`findme.web.app.create_app`).
        settings: ``port`` and ``trusted_proxies``.
        options: further ``uvicorn.Config`` options (tests pass ``port``, ``log_level``).
    """
    import uvicorn

    trusted = list(settings.trusted_proxies)
    values: dict[str, Any] = {
        "host": HOST,
        "port": settings.port,
        "log_level": "info",
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
        **options,
    }
    return uvicorn.Config(app, **values)


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from findme.adapters.sqs import SqsQueue
    from findme.local.recovery import recover
    from findme.local.stack import read_state, running_pids, start_stack
    from findme.local.worker import start_workers
    from findme.web.app import create_app

    state_dir = Path(args.state_dir or get_settings().local_state_dir).resolve()
    state = read_state(state_dir)
    handle = None
    if state is not None and running_pids(state):
        env = {str(k): str(v) for k, v in dict(state.get("env", {})).items()}
        print(f"using the local stack already running in {state_dir}")
    else:
        handle = start_stack(state_dir, qdrant_path=str(state_dir / "qdrant"), write_state=True)
        env = handle.env
    os.environ.update(env)
    os.environ["FINDME_LOCAL_WORKERS"] = "true"
    if args.port:
        os.environ["FINDME_PORT"] = str(args.port)
    os.environ.setdefault("FINDME_WEB_DIR", str(REPO_ROOT / "web" / "dist"))
    wiring.reset()
    settings = with_local_cors(get_settings(), os.environ)
    wiring.use(settings)  # one Settings for the app, its stores and the workers
    # Build the shared adapters before threads race for them (Qdrant local mode allows one
    # client per path, and the wiring caches are not locked).
    wiring.vector_index()
    metadata = wiring.metadata_store()
    wiring.object_store()
    # Work a crashed run left unfinished goes on now, not after the visibility timeout.
    queue = SqsQueue(settings)
    report = recover(settings, metadata, queue, moto_url=settings.aws_endpoint_url)
    print(f"recovered unfinished work: {report.as_dict()}")
    stop_workers = start_workers(settings, queue=queue)
    try:
        has_app = settings.web_dir is not None and (settings.web_dir / "index.html").is_file()
        app_note = "the web app at /" if has_app else "no web app: `make web` builds it"
        print(
            f"FindMe on http://{HOST}:{settings.port}  ({app_note}; Swagger UI: /docs; "
            "Ctrl-C stops)"
        )
        uvicorn.Server(uvicorn_config(create_app(settings), settings)).run()
    finally:
        stop_workers()
        orchestrator = wiring.orchestrator()
        shutdown = getattr(orchestrator, "shutdown", None)
        if callable(shutdown):
            shutdown(wait=False)
        close = getattr(wiring.vector_index(), "close", None)
        if callable(close):
            close()  # release Qdrant's local-mode lock before the interpreter shuts down
        if handle is not None:
            handle.stop()
        logger.info("local run stopped")
    return 0
