"""Tokens (HS256, claims checked, algorithm pinned) and phone OTPs (hashed, expiring,
limited attempts, per-phone send limit)."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fakes import SECRET, FakeNotifier, MemorySignUp, make_settings
from findme.domain.records import Role, User
from findme.errors import AuthenticationError, InvalidInputError, RateLimitedError
from findme.services.auth import OtpService, TokenService, normalize_phone, resolve_jwt_secret
from findme.services.sms_budget import SmsBudget
from findme.web.ratelimit import MemoryRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


USER = User(user_id="u-1", phone_number="+14155550100", name="Ada", role=Role.PHOTOGRAPHER)


def test_token_round_trip_carries_user_and_role() -> None:
    # Given a token service
    tokens = TokenService(make_settings(), SECRET)
    # When a token is issued and verified
    issued = tokens.issue(USER)
    claims = tokens.verify(issued.access_token)
    # Then the claims name the user, role and phone, and exp - iat is the TTL
    assert (claims.sub, claims.role, claims.phone) == ("u-1", Role.PHOTOGRAPHER, "+14155550100")
    assert claims.exp - claims.iat == make_settings().jwt_ttl_s == issued.expires_in


def test_expired_token_is_refused_with_its_own_code() -> None:
    # Given a token issued two TTLs ago
    clock = Clock()
    settings = make_settings(jwt_ttl_s=60)
    old = TokenService(settings, SECRET, clock=lambda: clock.now - timedelta(seconds=120))
    token = old.issue(USER).access_token
    # When it is verified now / Then it is expired
    with pytest.raises(AuthenticationError) as err:
        TokenService(settings, SECRET).verify(token)
    assert err.value.code == "token_expired"


@pytest.mark.parametrize(
    "claims_change",
    [{"aud": "someone-else"}, {"iss": "evil"}, {"iat": None}, {"sub": None}],
    ids=["audience", "issuer", "no-iat", "no-sub"],
)
def test_wrong_or_missing_claims_are_refused(claims_change: dict[str, object]) -> None:
    # Given a token signed with the right key but a wrong/missing claim
    now = int(datetime.now(UTC).timestamp())
    claims: dict[str, object] = {
        "sub": "u-1",
        "role": "member",
        "iss": "findme",
        "aud": "findme-app",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(claims_change)
    token = jwt.encode({k: v for k, v in claims.items() if v is not None}, SECRET, "HS256")
    # When verified / Then refused as invalid
    with pytest.raises(AuthenticationError) as err:
        TokenService(make_settings(), SECRET).verify(token)
    assert err.value.code == "invalid_token"


def test_other_key_and_alg_none_are_refused() -> None:
    # Given a token signed with another key, and an unsigned ("alg": "none") token
    tokens = TokenService(make_settings(), SECRET)
    forged = TokenService(make_settings(), "x" * 40).issue(USER).access_token
    good = tokens.issue(USER).access_token
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    unsigned = header.decode().rstrip("=") + "." + good.split(".")[1] + "."
    # When verified / Then both are refused
    for token in (forged, unsigned, "not-a-jwt"):
        with pytest.raises(AuthenticationError):
            tokens.verify(token)


def test_short_secret_is_refused() -> None:
    # Given a secret store returning a 16-byte key / Then no token service can be built
    class Store:
        def get_secret(self, secret_id: str) -> str:
            return "short-secret-123"

    with pytest.raises(AuthenticationError) as err:
        resolve_jwt_secret(make_settings(jwt_secret=None), lambda: Store())
    assert err.value.code == "jwt_misconfigured"


def test_secret_comes_from_secrets_manager_when_unset() -> None:
    class Store:
        def __init__(self) -> None:
            self.asked: list[str] = []

        def get_secret(self, secret_id: str) -> str:
            self.asked.append(secret_id)
            return "s" * 48

    store = Store()
    assert resolve_jwt_secret(make_settings(jwt_secret=None), lambda: store) == "s" * 48
    assert store.asked == ["findme/jwt-secret"]


def _otps(clock: Clock, **settings: object) -> tuple[OtpService, MemorySignUp, FakeNotifier]:
    store, sms = MemorySignUp(), FakeNotifier()
    config = make_settings(**settings)
    budget = SmsBudget(MemoryRateLimiter(clock=lambda: clock().timestamp()), config)
    service = OtpService(store, sms, config, SECRET, budget=budget, clock=clock)  # type: ignore[arg-type]
    return service, store, sms


def test_otp_is_stored_hashed_and_single_use() -> None:
    # Given a code sent to a phone
    clock = Clock()
    otps, store, sms = _otps(clock)
    otps.send("+1 415 555 0100")
    code = sms.last_code("+14155550100")
    # Then only an HMAC of it is stored
    stored = store.otps["+14155550100"]
    assert code not in stored.code_hash
    assert len(stored.code_hash) == 64
    # When it is used once it works, and a second time it does not
    assert otps.verify("+14155550100", code) == "+14155550100"
    with pytest.raises(AuthenticationError) as err:
        otps.verify("+14155550100", code)
    assert err.value.code == "otp_invalid"


def test_otp_expires() -> None:
    clock = Clock()
    otps, _, sms = _otps(clock, otp_ttl_s=60)
    otps.send("+14155550100")
    code = sms.last_code("+14155550100")
    clock.now += timedelta(seconds=61)
    with pytest.raises(AuthenticationError) as err:
        otps.verify("+14155550100", code)
    assert err.value.code == "otp_expired"


def test_otp_allows_few_attempts_then_locks() -> None:
    # Given a code and 3 allowed attempts
    clock = Clock()
    otps, _, sms = _otps(clock, otp_max_attempts=3)
    otps.send("+14155550100")
    code = sms.last_code("+14155550100")
    wrong = "000000" if code != "000000" else "111111"
    # When 3 wrong codes are tried
    for _ in range(3):
        with pytest.raises(AuthenticationError) as err:
            otps.verify("+14155550100", wrong)
        assert err.value.code == "otp_invalid"
    # Then even the right code is refused
    with pytest.raises(AuthenticationError) as err:
        otps.verify("+14155550100", code)
    assert err.value.code == "otp_attempts_exceeded"


def test_concurrent_wrong_guesses_get_no_more_answers_than_the_limit() -> None:
    """Given a code and 5 allowed attempts, when 10 wrong guesses race, then at most 5 are
    compared (otp_invalid), the others are refused unanswered, and the right code is then
    refused too: the limit holds under concurrency (issue 11, defect 3)."""
    clock = Clock()
    otps, _, sms = _otps(clock, otp_max_attempts=5)
    otps.send("+14155550100")
    code = sms.last_code("+14155550100")
    wrong = "000000" if code != "000000" else "111111"
    barrier = threading.Barrier(10)
    codes: list[str] = []

    def guess() -> None:
        barrier.wait()
        try:
            otps.verify("+14155550100", wrong)
        except AuthenticationError as err:
            codes.append(err.code)

    threads = [threading.Thread(target=guess) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes.count("otp_invalid") == 5
    assert codes.count("otp_attempts_exceeded") == 5
    with pytest.raises(AuthenticationError) as err:
        otps.verify("+14155550100", code)
    assert err.value.code == "otp_attempts_exceeded"


def test_a_checked_code_is_consumed_once() -> None:
    clock = Clock()
    otps, _, sms = _otps(clock)
    otps.send("+14155550100")
    code = sms.last_code("+14155550100")
    assert otps.verify("+14155550100", code, consume=False) == "+14155550100"
    otps.consume("+14155550100", code)
    with pytest.raises(AuthenticationError):
        otps.consume("+14155550100", code)
    with pytest.raises(AuthenticationError):
        otps.verify("+14155550100", code)


def test_otp_sending_is_rate_limited_per_phone_per_hour() -> None:
    # Given a limit of 2 sends per hour
    clock = Clock()
    otps, _, sms = _otps(clock, otp_sends_per_hour=2)
    otps.send("+14155550100")
    otps.send("+14155550100")
    # When a third is asked within the hour / Then 429-style error with a retry time
    with pytest.raises(RateLimitedError) as err:
        otps.send("+14155550100")
    assert err.value.code == "otp_rate_limited"
    assert 0 < err.value.retry_after_s <= 3600
    # And another phone is not affected; after the hour the first may send again
    otps.send("+14155550199")
    clock.now += timedelta(hours=1, seconds=1)
    assert otps.send("+14155550100").sends_remaining == 1
    assert len(sms.sent) == 4


@pytest.mark.parametrize("raw", ["12345", "+0123456789", "phone", "+1234567890123456", ""])
def test_bad_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInputError):
        normalize_phone(raw)


def test_phone_numbers_are_normalised_to_e164() -> None:
    assert normalize_phone("0044 (20) 7946-0958") == "+442079460958"
