"""Rate limits through the real app (issue 11, item 4): crowds behind one address, keys of
token-less routes (address and phone, never the token's user), the counters themselves.
The client address itself (uvicorn, API Gateway) is in test_api_client_address.

Windows are driven by a fake clock given to the app's counters, never by sleeping."""

from __future__ import annotations

import time

import httpx
import pytest
from fakes import MemorySignUp, World, build_api, detected, jpeg, new_phone
from findme.web import deps
from findme.web.ratelimit import MemoryRateLimiter

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
    stores: World,
) -> None:
    """Given a venue where every attendee shares one public address (Wi-Fi, carrier NAT),
    when 300 attendees ask for a code and register within 5 minutes (one per second, all in
    one 5-minute window), then every code is sent and every registration succeeds."""
    clock = Clock()
    api = build_api(stores, rate_limiter=MemoryRateLimiter(clock=clock))
    signups = MemorySignUp()  # moto would take ~10 s for 300 sign-ups
    for store in (deps.metadata_store, deps.object_store, deps.vector_index):
        api.app.dependency_overrides[store] = lambda: signups
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


def test_one_address_is_still_limited_on_sign_in_routes(stores: World) -> None:
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
    stores: World, path: str
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


def test_token_less_routes_count_each_phone_number_across_addresses(stores: World) -> None:
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
