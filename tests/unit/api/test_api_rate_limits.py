"""Rate limits through the real app (issue 11, item 4): crowds behind one address, keys of
token-less routes (address and phone, never the token's user), the client address under
uvicorn (proxy headers) and behind API Gateway (Mangum), and the counters themselves.

Windows are driven by a fake clock given to the app's counters, never by sleeping."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from api_fakes import MemorySignUp, Stores, build_api, detected, jpeg, new_phone
from findme.commands.local_run import uvicorn_config
from findme.local.stack import free_port
from findme.web import deps
from findme.web.ratelimit import MemoryRateLimiter
from mangum import Mangum

#: A moment that starts a 5-minute and a 1-hour window (epoch seconds; 1.8e9 = 6e6 x 300).
T0 = 1_800_000_000.0
#: A phone number that fails validation: the route answers 400 without touching a store,
#: and the request counts for its address only (no phone key).
BAD_PHONE = {"phone_number": "not-a-phone"}


class Clock:
    """Epoch seconds that a test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limit_of(response: httpx.Response) -> int:
    return int(response.headers["x-ratelimit-limit"])


def remaining(response: httpx.Response) -> int:
    return int(response.headers["x-ratelimit-remaining"])


# --- crowds ---------------------------------------------------------------------------------
def test_300_attendees_behind_one_address_get_codes_and_register_within_5_minutes(
    stores: Stores,
) -> None:
    """Given a venue where every attendee shares one public address (Wi-Fi, carrier NAT),
    when 300 attendees ask for a code and register within 5 minutes (one per second, all in
    one 5-minute window), then every code is sent and every registration succeeds."""
    clock = Clock()
    api = build_api(stores, rate_limiter=MemoryRateLimiter(clock=clock))
    signups = MemorySignUp()  # moto would take ~10 s for 300 sign-ups
    for store in (deps.metadata_store, deps.object_store, deps.vector_index):
        api.client.app.dependency_overrides[store] = lambda: signups
    otp_status, register_status = [], []
    started = time.perf_counter()
    with api.client_at("198.51.100.20") as venue:
        for i in range(300):
            clock.now = T0 + i
            phone = new_phone()
            otp = venue.post("/auth/otp", json={"phone_number": phone})
            otp_status.append(otp.status_code)
            if otp.status_code != 200:
                continue
            selfie = api.engine.register(jpeg(seed=i), [detected(stores.identity())])
            registered = venue.post(
                "/register",
                data={
                    "name": f"Attendee {i}",
                    "phone_number": phone,
                    "otp": api.sms.last_code(phone),
                },
                files={"selfie": ("me.jpg", selfie, "image/jpeg")},
            )
            register_status.append(registered.status_code)
        # And all of them were counted for the one address (it still has room for a crowd)
        last = venue.post("/auth/otp", json=BAD_PHONE)
    assert otp_status == [200] * 300
    assert register_status == [201] * 300
    assert len(signups.users) == len(signups.vectors) == 300
    assert last.status_code == 400
    assert remaining(last) == limit_of(last) - 301 > 0
    print(f"300 attendees in {time.perf_counter() - started:.1f} s")


def test_one_address_is_still_limited_on_sign_in_routes(stores: Stores) -> None:
    """Given the per-address limit of a sign-in route (from its X-RateLimit-Limit header,
    sized for hundreds per 5 minutes), when one address exceeds it within the window, then
    it gets 429 with Retry-After until the window ends; another address is not affected."""
    clock = Clock()
    api = build_api(stores, rate_limiter=MemoryRateLimiter(clock=clock))
    first = api.client.post("/auth/otp", json=BAD_PHONE)
    limit = limit_of(first)
    assert limit >= 300  # a 300-attendee crowd fits in one window
    assert first.json()["code"] == "invalid_phone_number"
    statuses = [api.client.post("/auth/otp", json=BAD_PHONE).status_code for _ in range(limit)]
    assert statuses == [400] * (limit - 1) + [429]
    refused = api.client.post("/auth/otp", json=BAD_PHONE)
    assert refused.json()["code"] == "rate_limited"
    assert 0 < int(refused.headers["retry-after"]) <= 300
    assert api.client_at("192.0.2.99").post("/auth/otp", json=BAD_PHONE).status_code == 400
    # When the window ends the address may try again
    clock.now = T0 + 300
    assert api.client.post("/auth/otp", json=BAD_PHONE).status_code == 400


# --- keys of token-less routes --------------------------------------------------------------
@pytest.mark.parametrize("path", ["/auth/otp", "/auth/token"])
def test_a_valid_token_does_not_give_a_fresh_bucket_on_token_less_routes(
    stores: Stores, path: str
) -> None:
    """Given an address that has used up a token-less route's limit, when it attaches valid
    bearer tokens of several accounts, then it is still refused: those routes count the
    address, never the token's user."""
    clock = Clock()
    api = build_api(stores, rate_limiter=MemoryRateLimiter(clock=clock))
    tokens = [api.register()[1] for _ in range(2)]  # two accounts
    clock.now = T0 + 300  # a fresh window
    body = BAD_PHONE if path == "/auth/otp" else {"phone_number": "not-a-phone", "otp": "123456"}
    answers = [api.client.post(path, json=body)]
    for _ in range(limit_of(answers[0])):
        answers.append(api.client.post(path, json=body))
    assert answers[-1].status_code == 429
    for token in tokens:
        with_token = api.client.post(path, json=body, headers=api.auth(token))
        assert with_token.status_code == 429, with_token.text
        assert with_token.json()["code"] == "rate_limited"


def test_token_less_routes_count_each_phone_number_across_addresses(stores: Stores) -> None:
    """Given one phone number, when code guesses for it come from ever new addresses (a
    botnet), then the phone's own limit refuses them once spent, while the same addresses
    may still sign in other phones."""
    clock = Clock()
    api = build_api(stores, rate_limiter=MemoryRateLimiter(clock=clock))
    phone = new_phone()
    guess = {"phone_number": phone, "otp": "000000"}
    answers = []
    for i in range(100):
        answers.append(api.client_at(f"203.0.113.{i}").post("/auth/token", json=guess))
        if answers[-1].status_code == 429:
            break
    assert answers[-1].status_code == 429
    assert answers[-1].json()["code"] == "rate_limited"
    per_phone = limit_of(answers[0])
    assert len(answers) == per_phone + 1
    assert {a.status_code for a in answers[:-1]} == {401}
    # Formatting the number differently is the same phone
    spaced = f"{phone[:2]} {phone[2:5]} {phone[5:]}"
    again = api.client_at("203.0.113.250").post(
        "/auth/token", json={"phone_number": spaced, "otp": "000000"}
    )
    assert again.status_code == 429
    other = api.client_at("203.0.113.1").post(
        "/auth/token", json={"phone_number": new_phone(), "otp": "000000"}
    )
    assert other.status_code == 401
    # And the form body of /register counts the same way
    register = api.client_at("203.0.113.251").post(
        "/register", data={"name": "X", "phone_number": phone, "otp": "000000"}
    )
    assert register.status_code != 429  # its own route: a fresh bucket for the phone
    assert remaining(register) == per_phone - 1


# --- the client address: uvicorn (make run) and API Gateway (Mangum) -------------------------
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


def test_make_run_does_not_let_x_forwarded_for_choose_the_key(stores: Stores) -> None:
    """Given the API served as ``findme local run`` serves it, when a local client sends
    different X-Forwarded-For values, then all its requests count for its own address."""
    # Given uvicorn's own defaults believe X-Forwarded-For from 127.0.0.1 (so this probe
    # can see a spoof when there is one)
    app = build_api(stores).client.app
    defaults = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    with served(defaults) as url:
        spoofed = _remaining_by_forwarded_for(url)
    assert len(set(spoofed)) == 1  # three fresh buckets: the client chose its key
    # When served with findme's config (no FINDME_TRUSTED_PROXIES)
    app = build_api(stores).client.app
    with served(
        uvicorn_config(app, app.state.settings, port=free_port(), log_level="warning")
    ) as url:
        counted = _remaining_by_forwarded_for(url)
    # Then one bucket counts down
    assert counted == [counted[0], counted[0] - 1, counted[0] - 2]


def test_make_run_believes_x_forwarded_for_from_a_configured_proxy(stores: Stores) -> None:
    """Given FINDME_TRUSTED_PROXIES names 127.0.0.1 (a local reverse proxy), when requests
    from it carry different X-Forwarded-For values, then each origin has its own bucket."""
    app = build_api(stores, trusted_proxies="127.0.0.1").client.app
    config = uvicorn_config(app, app.state.settings, port=free_port(), log_level="warning")
    with served(config) as url:
        counted = _remaining_by_forwarded_for(url)
    assert len(set(counted)) == 1


def http_api_event(
    path: str, body: dict[str, Any], *, source_ip: str, headers: dict[str, str]
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) proxy event, as API Gateway sends it."""
    raw = json.dumps(body).encode()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.com", "content-type": "application/json", **headers},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": "pytest",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "22/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1_795_312_800_000,
        },
        "body": base64.b64encode(raw).decode(),
        "isBase64Encoded": True,
    }


def test_behind_api_gateway_the_key_is_the_request_contexts_source_ip(stores: Stores) -> None:
    """Given the app behind Mangum as the api Lambda runs it, when HTTP API v2 events carry
    made-up X-Forwarded-For headers, then requests count for ``requestContext.http.sourceIp``
    (what API Gateway saw), and another source IP has its own bucket."""
    handler = Mangum(build_api(stores).client.app, lifespan="off")

    def remaining_for(source_ip: str, forwarded_for: str) -> int:
        event = http_api_event(
            "/auth/otp", BAD_PHONE, source_ip=source_ip, headers={"x-forwarded-for": forwarded_for}
        )
        response = handler(event, None)  # type: ignore[arg-type]
        assert response["statusCode"] == 400, response
        return int(response["headers"]["x-ratelimit-remaining"])

    same_source = [remaining_for("203.0.113.7", f"198.51.100.{i}, 203.0.113.7") for i in range(3)]
    assert same_source == [same_source[0], same_source[0] - 1, same_source[0] - 2]
    assert remaining_for("203.0.113.8", "198.51.100.0") == same_source[0]


# --- the counters -------------------------------------------------------------------------------
def test_memory_counters_keep_long_windows_when_pruning_short_ones() -> None:
    """Given an hourly counter at its limit and more than 10,000 one-minute counters, when the
    process drops the windows that have ended, then the hourly count survives: minute traffic
    does not reset an SMS budget."""
    clock = Clock()
    counters = MemoryRateLimiter(clock=clock)
    assert counters.hit("sms | all", 1, 3600).allowed
    clock.now = T0 + 60
    for i in range(10_001):
        counters.hit(f"GET /groups | user:{i}", 5, 60)
    clock.now = T0 + 180  # those minute windows have ended; the next hit prunes them
    assert counters.hit("GET /groups | user:0", 5, 60).remaining == 4
    refused = counters.hit("sms | all", 1, 3600)
    assert not refused.allowed
    assert refused.retry_after_s == 3600 - 180
