"""The address a request is counted under (issue 11, item 4, proxy headers): under
``findme local run`` (uvicorn) X-Forwarded-For is believed only from configured proxies;
behind API Gateway (Mangum) it is the request context's source IP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from api_gateway_events import v2_event
from fakes import World, build_api
from findme.commands.local_run import uvicorn_config
from findme.local.stack import free_port
from mangum import Mangum

#: A phone number that fails validation: 400 without touching a store, counted per address.
BAD_PHONE = {"phone_number": "not-a-phone"}


def remaining(response: httpx.Response) -> int:
    return int(response.headers["x-ratelimit-remaining"])


@contextmanager
def served(config: uvicorn.Config) -> Iterator[str]:
    """Serve ``config`` over HTTP on 127.0.0.1 in a thread; yields the base URL."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _remaining_by_forwarded_for(base_url: str) -> list[int]:
    """X-RateLimit-Remaining of /auth/otp for requests claiming 3 different origins."""
    with httpx.Client(base_url=base_url, timeout=10) as http:
        return [
            remaining(http.post("/auth/otp", json=BAD_PHONE, headers={"X-Forwarded-For": spoofed}))
            for spoofed in ("198.51.100.1", "198.51.100.2", "198.51.100.3")
        ]


def test_make_run_does_not_let_x_forwarded_for_choose_the_key(stores: World) -> None:
    """Given the API served as ``findme local run`` serves it, when a local client sends
    different X-Forwarded-For values, then all its requests count for its own address."""
    # Given uvicorn's own defaults believe X-Forwarded-For from 127.0.0.1 (so this probe
    # can see a spoof when there is one)
    app = build_api(stores).app
    defaults = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    with served(defaults) as url:
        spoofed = _remaining_by_forwarded_for(url)
    assert len(set(spoofed)) == 1  # three fresh buckets: the client chose its key
    # When served with findme's config (no FINDME_TRUSTED_PROXIES)
    app = build_api(stores).app
    with served(
        uvicorn_config(app, app.state.settings, port=free_port(), log_level="warning")
    ) as url:
        counted = _remaining_by_forwarded_for(url)
    # Then one bucket counts down
    assert counted == [counted[0], counted[0] - 1, counted[0] - 2]


def test_make_run_believes_x_forwarded_for_from_a_configured_proxy(stores: World) -> None:
    """Given FINDME_TRUSTED_PROXIES names 127.0.0.1 (a local reverse proxy), when requests
    from it carry different X-Forwarded-For values, then each origin has its own bucket."""
    app = build_api(stores, trusted_proxies="127.0.0.1").app
    config = uvicorn_config(app, app.state.settings, port=free_port(), log_level="warning")
    with served(config) as url:
        counted = _remaining_by_forwarded_for(url)
    assert len(set(counted)) == 1


def test_behind_api_gateway_the_key_is_the_request_contexts_source_ip(stores: World) -> None:
    """Given the app behind Mangum as the api Lambda runs it, when HTTP API v2 events carry
    made-up X-Forwarded-For headers, then requests count for ``requestContext.http.sourceIp``
    (what API Gateway saw), and another source IP has its own bucket."""
    handler = Mangum(build_api(stores).app, lifespan="off")

    def remaining_for(source_ip: str, forwarded_for: str) -> int:
        headers = {"content-type": "application/json", "x-forwarded-for": forwarded_for}
        body = json.dumps(BAD_PHONE).encode()
        event = v2_event("POST", "/auth/otp", headers=headers, body=body, source_ip=source_ip)
        response = handler(event, None)  # type: ignore[arg-type]
        assert response["statusCode"] == 400, response
        return int(response["headers"]["x-ratelimit-remaining"])

    same_source = [remaining_for("203.0.113.7", f"198.51.100.{i}, 203.0.113.7") for i in range(3)]
    assert same_source == [same_source[0], same_source[0] - 1, same_source[0] - 2]
    assert remaining_for("203.0.113.8", "198.51.100.0") == same_source[0]
