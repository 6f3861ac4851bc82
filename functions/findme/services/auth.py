"""Authentication: JWT access tokens (HS256) and phone one-time passwords (OTP) sent by SMS.

Tokens (PyJWT, RFC 7519): HS256 only (the algorithm is pinned on decode, so ``alg: none`` or
an RS/HS confusion is rejected), claims ``sub`` (user id), ``role`` (platform role),
``phone``, ``iss``, ``aud``, ``iat``, ``exp`` and ``jti``; ``exp``/``iat``/``iss``/``aud``
are required and checked. The key is ``Settings.jwt_secret`` or, when unset, the Secrets
Manager secret ``Settings.jwt_secret_id``; PyJWT wants HMAC keys of at least 32 bytes
(RFC 7518 §3.2), which :func:`resolve_jwt_secret` enforces.

OTPs: 6 decimal digits from :mod:`secrets`; only an HMAC-SHA256 of ``phone:code`` keyed by a
key derived from the JWT secret is stored (a leaked table does not reveal codes, and a
10⁶-code space cannot be brute-forced offline without the key); a code expires after
``Settings.otp_ttl_s`` seconds, allows ``Settings.otp_max_attempts`` wrong guesses and is
single-use; sending is limited to ``Settings.otp_sends_per_hour`` per phone (fixed one-hour
window from the phone's first code) and by the hourly per-country and service-wide SMS
budgets of :class:`~findme.services.sms_budget.SmsBudget` (SMS pumping). The SMS goes
through the :class:`~findme.ports.Notifier` (SNS in AWS); on the local stack the SNS adapter
also records it (:mod:`findme.local.outbox`) so ``findme local otp PHONE`` can print the code.

Known limit: the per-phone send count is a read-modify-write of the phone's challenge, so
concurrent requests for one phone may count once; the atomic per-phone route limit
(:data:`findme.web.routes.auth.SIGN_IN_PER_PHONE` per 5 minutes) and the SMS budgets bound
the damage. Wrong guesses are counted atomically (:meth:`OtpService.verify`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from findme.config import Settings
from findme.domain.records import OtpChallenge, Role, User, utcnow
from findme.errors import AuthenticationError, InvalidInputError, RateLimitedError
from findme.observability import logger
from findme.ports import Notifier, OtpRepository, SecretStore
from findme.services.sms_budget import SmsBudget

#: The only accepted JWT algorithm (pinned on decode).
JWT_ALGORITHM = "HS256"
#: Minimum HMAC key length in bytes (RFC 7518 §3.2: key size >= hash output size).
MIN_SECRET_BYTES = 32
OTP_DIGITS = 6
OTP_SEND_WINDOW = timedelta(hours=1)
#: Stored in place of the hash once a code has been used (never equals a hex digest).
CONSUMED = "consumed"
#: E.164: "+" then 8-15 digits (ITU-T E.164 allows at most 15).
E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def normalize_phone(raw: str) -> str:
    """Phone number in E.164 form (``+14155550123``), spaces/dashes/brackets removed.

    Raises:
        InvalidInputError: not a ``+``-prefixed international number of 8-15 digits.
    """
    phone = re.sub(r"[\s\-().]", "", raw or "")
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    if not E164.match(phone):
        raise InvalidInputError(
            "phone_number must be in E.164 form, e.g. +14155550123",
            code="invalid_phone_number",
            field="phone_number",
        )
    return phone


def resolve_jwt_secret(settings: Settings, secret_store: Callable[[], SecretStore]) -> str:
    """The HS256 key: ``Settings.jwt_secret`` or the Secrets Manager secret ``jwt_secret_id``.

    Args:
        settings: validated settings.
        secret_store: factory for the secret store, only called when the setting is unset.

    Raises:
        AuthenticationError: the resolved secret is shorter than 32 bytes (misconfiguration;
            tokens could be forged), reported as ``code="jwt_misconfigured"``.
        DependencyError: Secrets Manager is unreachable (from the adapter).
    """
    if settings.jwt_secret is not None:
        secret = settings.jwt_secret.get_secret_value()
    else:
        secret = secret_store().get_secret(settings.jwt_secret_id)
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise AuthenticationError("JWT secret is too short", code="jwt_misconfigured")
    return secret


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, as read from a verified token and the users table."""

    user_id: str
    role: Role
    phone_number: str
    name: str

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @classmethod
    def from_user(cls, user: User) -> Principal:
        return cls(user.user_id, Role(user.role), user.phone_number, user.name)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An access token; ``expires_in`` in seconds (OAuth 2.0 token response, RFC 6749 §5.1)."""

    access_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105 (OAuth token type, not a secret)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """Verified claims: ``sub`` user id, ``role``, ``phone``, ``exp``/``iat`` epoch seconds."""

    sub: str
    role: Role
    phone: str
    exp: int
    iat: int
    jti: str


class TokenService:
    """Issues and verifies HS256 access tokens.

    Args:
        settings: issuer, audience, TTL (``jwt_ttl_s`` seconds).
        secret: the HMAC key (>= 32 bytes), see :func:`resolve_jwt_secret`.
        clock: current UTC time (tests freeze it).
    """

    def __init__(
        self, settings: Settings, secret: str, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise AuthenticationError("JWT secret is too short", code="jwt_misconfigured")
        self._settings = settings
        self._secret = secret
        self._clock = clock

    def issue(self, user: User) -> IssuedToken:
        """A signed token for ``user`` valid for ``Settings.jwt_ttl_s`` seconds."""
        now = int(self._clock().timestamp())
        ttl = self._settings.jwt_ttl_s
        claims: dict[str, Any] = {
            "sub": user.user_id,
            "role": str(user.role),
            "phone": user.phone_number,
            "iss": self._settings.jwt_issuer,
            "aud": self._settings.jwt_audience,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self._secret, algorithm=JWT_ALGORITHM)
        return IssuedToken(access_token=token, expires_in=ttl)

    def verify(self, token: str) -> TokenClaims:
        """Verify signature, algorithm, ``exp``, ``iat``, ``iss``, ``aud``; return the claims.

        Raises:
            AuthenticationError: ``code`` ``token_expired`` or ``invalid_token``.
        """
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationError("Token has expired", code="token_expired") from exc
        except jwt.PyJWTError as exc:
            raise AuthenticationError("Invalid token", code="invalid_token") from exc
        try:
            return TokenClaims(
                sub=str(claims["sub"]),
                role=Role(claims.get("role", Role.MEMBER)),
                phone=str(claims.get("phone", "")),
                exp=int(claims["exp"]),
                iat=int(claims["iat"]),
                jti=str(claims.get("jti", "")),
            )
        except (ValueError, TypeError) as exc:
            raise AuthenticationError("Invalid token claims", code="invalid_token") from exc


@dataclass(frozen=True, slots=True)
class OtpSent:
    """Result of sending a code: seconds until it expires and sends left in this hour."""

    expires_in: int
    sends_remaining: int


def code_in_message(message: str) -> str | None:
    """The 6-digit code inside an OTP SMS text (``findme local otp``), or ``None``."""
    found = re.search(rf"\b(\d{{{OTP_DIGITS}}})\b", message)
    return found.group(1) if found else None


class OtpService:
    """Send and verify phone one-time passwords.

    Args:
        metadata: stores the hashed challenge (one per phone).
        notifier: sends the SMS.
        settings: ``otp_ttl_s`` (seconds), ``otp_max_attempts``, ``otp_sends_per_hour``.
        pepper: HMAC key for code hashes (derive it from the JWT secret).
        budget: the per-country and service-wide hourly SMS budgets, spent before each SMS.
        clock: current UTC time.
        code_factory: returns a new 6-digit code (tests make it deterministic).
    """

    def __init__(
        self,
        metadata: OtpRepository,
        notifier: Notifier,
        settings: Settings,
        pepper: str,
        *,
        budget: SmsBudget,
        clock: Callable[[], datetime] = utcnow,
        code_factory: Callable[[], str] | None = None,
    ) -> None:
        self._metadata = metadata
        self._notifier = notifier
        self._settings = settings
        self._budget = budget
        self._key = hmac.new(pepper.encode(), b"findme-otp-v1", hashlib.sha256).digest()
        self._clock = clock
        self._code_factory = code_factory or _random_code

    def hash_code(self, phone_number: str, code: str) -> str:
        """Hex HMAC-SHA256 of ``phone:code`` (what is stored)."""
        return hmac.new(self._key, f"{phone_number}:{code}".encode(), hashlib.sha256).hexdigest()

    def phone_slot(self, phone_number: str) -> str:
        """A stable opaque id for a phone (32 hex digits of an HMAC-SHA256 keyed like the
        code hashes): the selfie upload slot of a caller who is not registered yet
        (:mod:`findme.services.selfie_uploads`), so object keys never hold a phone number."""
        phone = normalize_phone(phone_number)
        return hmac.new(self._key, f"selfie-slot:{phone}".encode(), hashlib.sha256).hexdigest()[:32]

    def send(self, phone_number: str) -> OtpSent:
        """Create a fresh code for ``phone_number`` (E.164) and send it by SMS.

        Raises:
            InvalidInputError: bad phone number.
            RateLimitedError: ``otp_rate_limited``: more than ``otp_sends_per_hour`` sends to
                this phone in its current hour; ``sms_country_limited`` or
                ``sms_budget_exhausted``: see :meth:`SmsBudget.spend`.
        """
        phone = normalize_phone(phone_number)
        now = self._clock()
        limit = self._settings.otp_sends_per_hour
        previous = self._metadata.get_otp(phone)
        window_start, sends = now, 1
        if previous is not None and now - previous.window_started_at < OTP_SEND_WINDOW:
            if previous.sends_in_window >= limit:
                retry = previous.window_started_at + OTP_SEND_WINDOW - now
                raise RateLimitedError(
                    "Too many codes sent to this phone; try again later",
                    retry_after_s=max(1, int(retry.total_seconds())),
                    code="otp_rate_limited",
                )
            window_start, sends = previous.window_started_at, previous.sends_in_window + 1
        self._budget.spend(phone)
        code = self._code_factory()
        ttl = self._settings.otp_ttl_s
        self._metadata.put_otp(
            OtpChallenge(
                phone_number=phone,
                code_hash=self.hash_code(phone, code),
                expires_at=now + timedelta(seconds=ttl),
                attempts=0,
                sends_in_window=sends,
                window_started_at=window_start,
            )
        )
        minutes = max(1, ttl // 60)
        self._notifier.send_sms(
            phone, f"Your FindMe code is {code}. It expires in {minutes} minutes."
        )
        if self._settings.stage == "local":  # no real SMS leaves the local stack
            logger.info("OTP sent (local stack)", extra={"phone_number": phone, "code": code})
        return OtpSent(expires_in=ttl, sends_remaining=max(0, limit - sends))

    def verify(self, phone_number: str, code: str, *, consume: bool = True) -> str:
        """Check ``code`` for ``phone_number`` and consume it; returns the normalised phone.

        Every guess is counted *before* it is compared, atomically in the store
        (:meth:`OtpRepository.take_otp_attempt`), so concurrent guesses cannot get more than
        ``Settings.otp_max_attempts`` answers between them. With ``consume=False`` the code
        is only checked and stays usable (:meth:`consume` it once the request succeeded).

        Raises:
            InvalidInputError: bad phone number.
            AuthenticationError: ``code`` ``otp_invalid`` (wrong/none/used), ``otp_expired``,
                or ``otp_attempts_exceeded``.
        """
        phone = normalize_phone(phone_number)
        now = self._clock()
        challenge = self._metadata.get_otp(phone)
        if challenge is None or challenge.code_hash == CONSUMED:
            raise AuthenticationError("No valid code for this phone", code="otp_invalid")
        if now >= challenge.expires_at:
            raise AuthenticationError("The code has expired", code="otp_expired")
        if not self._metadata.take_otp_attempt(
            phone, challenge.code_hash, self._settings.otp_max_attempts
        ):
            raise AuthenticationError(
                "Too many wrong codes; request a new one", code="otp_attempts_exceeded"
            )
        given = (code or "").strip()
        if not hmac.compare_digest(self.hash_code(phone, given), challenge.code_hash):
            raise AuthenticationError("Wrong code", code="otp_invalid")
        if consume:
            self._consume(challenge, now)
        return phone

    def consume(self, phone_number: str, code: str) -> None:
        """Use up a code already checked by ``verify(..., consume=False)`` in this request.

        Raises:
            AuthenticationError: ``otp_invalid``: the code is no longer the phone's (used or
                replaced meanwhile).
        """
        phone = normalize_phone(phone_number)
        challenge = self._metadata.get_otp(phone)
        given = (code or "").strip()
        if challenge is None or not hmac.compare_digest(
            self.hash_code(phone, given), challenge.code_hash
        ):
            raise AuthenticationError("No valid code for this phone", code="otp_invalid")
        self._consume(challenge, self._clock())

    def _consume(self, challenge: OtpChallenge, now: datetime) -> None:
        # Single use; the record stays so the hourly send window keeps counting.
        challenge.code_hash = CONSUMED
        challenge.expires_at = now
        self._metadata.put_otp(challenge)


def _random_code() -> str:
    return f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"
