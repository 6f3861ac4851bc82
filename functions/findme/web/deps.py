"""FastAPI dependencies as ``Annotated`` aliases: settings, stores, auth, roles, rate limits.

Use them as parameter types in routes (full-stack-fastapi-template style)::

    @router.get("/groups/{group_id}/persons")
    def list_persons(group: GroupCurator, metadata: Metadata) -> ...: ...

Stores come from the app's composition root (``app.state.wiring``: the
:class:`findme.wiring.Wiring` of the app's settings, one adapter each); tests replace them
with ``app.dependency_overrides[deps.metadata_store] = lambda: fake``.

Auth: ``Authorization: Bearer <JWT>`` is verified by :class:`findme.services.auth.TokenService`
(HS256 pinned; ``exp``/``iat``/``iss``/``aud`` checked), then the user is loaded from the users
table (so a deleted user's token stops working and the stored role is authoritative).

=====================  ===================================================================
alias                  gives
=====================  ===================================================================
``SettingsDep``        the app's :class:`~findme.config.Settings`
``AppWiring``          the app's :class:`~findme.wiring.Wiring` (the stores of its settings)
``Metadata``           :class:`~findme.ports.MetadataStore`
``Objects``            :class:`~findme.ports.ObjectStore`
``Vectors``            :class:`~findme.ports.VectorIndex`
``Engine``             :class:`~findme.ports.FaceEngine` (loads models lazily)
``Jobs``               :class:`~findme.ports.Orchestrator`
``PhotoLinker``        image -> :class:`~findme.services.media.PhotoLinks` (presigned URLs)
``Fetcher``            :class:`~findme.adapters.https_fetch.HttpsFetcher` (Drive links)
``Tokens``             :class:`~findme.services.auth.TokenService`
``Counters``           the shared :class:`~findme.ports.RateLimiter` (route limits, SMS budgets)
``Otps``               :class:`~findme.services.auth.OtpService` (with the SMS budgets)
``CurrentUser``        :class:`~findme.services.auth.Principal` (401 without a valid token)
``OptionalUser``       ``Principal | None`` (no 401; a bad token is still 401)
``Rights``             the caller's :class:`~findme.services.policy.Policy` (the one policy)
``AdminUser``          a platform admin (else 403 ``access_denied``)
``SelfOrAdmin``        the :class:`~findme.domain.records.User` of path ``{user_id}`` (``me``:
                       the caller), for the user or an admin (403; 404 ``user_not_found``)
``GroupReader``        :class:`~findme.services.policy.GroupAccess` for path ``{group_id}``
                       with the need READ (403 ``access_denied`` otherwise, 404 no group)
``GroupUploader``      same, need UPLOAD (photographer, owner, admin)
``GroupCurator``       same, need CURATE (owner, admin)
``GroupAdmin``         same, need ADMINISTER (owner, admin)
``Page``               :class:`~findme.web.pagination.PageParams` (``limit``, ``cursor``)
=====================  ===================================================================

Every API route is rate limited by :func:`enforce_rate_limit` (installed app-wide by
:func:`findme.web.app.create_app`); a route sets its own limits with
``openapi_extra={RATE_LIMIT_KEY: n}`` or ``RouteLimit(...).extra()`` (see
:mod:`findme.web.ratelimit` for who a request is counted as).

Why one module of about 450 lines: the one module routes import their dependencies from (the
full-stack-fastapi-template habit), so a route's signature says everything it uses.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from findme import wiring
from findme.config import Settings
from findme.domain.ratelimits import binding
from findme.domain.records import Face, Image, Person, User
from findme.errors import (
    AuthenticationError,
    FindMeError,
    InvalidInputError,
    ModelUnavailableError,
    NotFoundError,
    RateLimitedError,
)
from findme.ports import (
    FaceEngine,
    MetadataStore,
    Notifier,
    ObjectStore,
    Orchestrator,
    RateLimiter,
    RemoteFetcher,
    VectorIndex,
)
from findme.services import curation_access
from findme.services.auth import (
    OtpService,
    Principal,
    TokenService,
    normalize_phone,
    resolve_jwt_secret,
)
from findme.services.media import PhotoLinks, photo_links
from findme.services.policy import GroupAccess, Need, Policy
from findme.services.sms_budget import SmsBudget
from findme.web.errors import raises
from findme.web.pagination import PageParams
from findme.web.ratelimit import STATE_ATTR, MemoryRateLimiter, RouteLimit, client_address

_lock = threading.Lock()


# --- settings and stores ----------------------------------------------------------------
def get_app_settings(request: Request) -> Settings:
    """The settings given to :func:`findme.web.app.create_app`."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def app_wiring(request: Request) -> wiring.Wiring:
    """The composition root of the app's settings (:func:`findme.wiring.for_settings`)."""
    root: wiring.Wiring = request.app.state.wiring
    return root


AppWiring = Annotated[wiring.Wiring, Depends(app_wiring)]


@raises(503)
def metadata_store(root: AppWiring) -> MetadataStore:
    return root.metadata_store()


@raises(503)
def object_store(root: AppWiring) -> ObjectStore:
    return root.object_store()


@raises(503)
def vector_index(root: AppWiring) -> VectorIndex:
    return root.vector_index()


@raises(503)
def face_engine(root: AppWiring) -> FaceEngine:
    """The ONNX face engine (models load lazily, once per process).

    Raises:
        ModelUnavailableError: the runtime has no onnxruntime/OpenCV (an api image built
            without the ``digest`` extra): 503 instead of a 500 on the face routes.
    """
    try:
        return root.face_engine()
    except ImportError as exc:
        raise ModelUnavailableError(
            "The face engine is not installed in this deployment", code="face_engine_unavailable"
        ) from exc


@raises(503)
def orchestrator(root: AppWiring) -> Orchestrator:
    return root.orchestrator()


@raises(503)
def notifier(root: AppWiring) -> Notifier:
    """SNS notifier (on the local stack it also records each SMS, see findme.local.outbox)."""
    return root.notifier()


def https_fetcher(root: AppWiring) -> RemoteFetcher:
    """How links (Drive) are fetched: a fresh client per call, the system resolver."""
    return root.remote_fetcher()


Metadata = Annotated[MetadataStore, Depends(metadata_store)]
Objects = Annotated[ObjectStore, Depends(object_store)]
Vectors = Annotated[VectorIndex, Depends(vector_index)]
Engine = Annotated[FaceEngine, Depends(face_engine)]
Jobs = Annotated[Orchestrator, Depends(orchestrator)]
Sms = Annotated[Notifier, Depends(notifier)]
Fetcher = Annotated[RemoteFetcher, Depends(https_fetcher)]


def photo_linker(objects: Objects, settings: SettingsDep) -> Callable[[Image], PhotoLinks]:
    """Image -> presigned URLs of original, thumbnail and preview (``presigned_url_expiry_s``)."""

    def links(image: Image) -> PhotoLinks:
        return photo_links(objects, image, expires_s=settings.presigned_url_expiry_s)

    return links


PhotoLinker = Annotated[Callable[[Image], PhotoLinks], Depends(photo_linker)]


# --- tokens and OTP ---------------------------------------------------------------------------
@raises(503)
def jwt_secret(request: Request) -> str:
    """The HS256 key, resolved once per app (Settings or Secrets Manager), then cached."""
    state = request.app.state
    secret: str | None = getattr(state, "jwt_secret", None)
    if secret is None:
        with _lock:
            secret = getattr(state, "jwt_secret", None)
            if secret is None:
                secret = resolve_jwt_secret(state.settings, state.wiring.secret_store)
                state.jwt_secret = secret
    return secret


JwtSecret = Annotated[str, Depends(jwt_secret)]


def token_service(settings: SettingsDep, secret: JwtSecret) -> TokenService:
    return TokenService(settings, secret)


Tokens = Annotated[TokenService, Depends(token_service)]


def rate_limiter(request: Request) -> RateLimiter:
    """The app's shared counters (route limits and SMS budgets); in memory unless given."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        with _lock:
            limiter = getattr(request.app.state, "rate_limiter", None)
            if limiter is None:
                limiter = MemoryRateLimiter()
                request.app.state.rate_limiter = limiter
    return limiter


Counters = Annotated[RateLimiter, Depends(rate_limiter)]


def otp_service(
    settings: SettingsDep, metadata: Metadata, sms: Sms, secret: JwtSecret, counters: Counters
) -> OtpService:
    return OtpService(metadata, sms, settings, pepper=secret, budget=SmsBudget(counters, settings))


Otps = Annotated[OtpService, Depends(otp_service)]


# --- the caller -------------------------------------------------------------------------------
bearer_scheme = HTTPBearer(
    auto_error=False,
    description="Access token from POST /register or POST /auth/token (JWT, HS256).",
)
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


@raises(401)
def optional_user(
    request: Request, credentials: BearerCredentials, tokens: Tokens, metadata: Metadata
) -> Principal | None:
    """The caller if a bearer token is sent; ``None`` without one.

    Raises:
        AuthenticationError: a token is sent but invalid, expired, or its user is gone.
    """
    if credentials is None:
        return None
    claims = tokens.verify(credentials.credentials)
    try:
        user = metadata.get_user(claims.sub)
    except NotFoundError as exc:
        raise AuthenticationError(
            "The token's user no longer exists", code="invalid_token"
        ) from exc
    request.state.user_id = user.user_id
    return Principal.from_user(user)


@raises(401)
def current_user(principal: Annotated[Principal | None, Depends(optional_user)]) -> Principal:
    """The authenticated caller.

    Raises:
        AuthenticationError: no bearer token (``missing_token``) or a bad one.
    """
    if principal is None:
        raise AuthenticationError("Missing bearer token", code="missing_token")
    return principal


OptionalUser = Annotated[Principal | None, Depends(optional_user)]
CurrentUser = Annotated[Principal, Depends(current_user)]


def rights(principal: CurrentUser, metadata: Metadata) -> Policy:
    """The caller's rights (:class:`~findme.services.policy.Policy`), one per request."""
    return Policy(metadata, principal)


Rights = Annotated[Policy, Depends(rights)]


@raises(403)
def admin_user(policy: Rights) -> Principal:
    """The caller, a platform admin (else the policy's 403)."""
    policy.require_admin()
    return policy.principal


AdminUser = Annotated[Principal, Depends(admin_user)]


@raises(403, 404)
def self_or_admin(
    user_id: Annotated[str, Path(description="A user id, or `me` for the caller.")],
    policy: Rights,
    metadata: Metadata,
) -> User:
    """The user of path ``{user_id}`` (``me``: the caller), for the user or an admin.

    Raises:
        PermissionDeniedError: ``access_denied`` for someone else's (not an admin; not told
            whether the user exists).
        NotFoundError: ``user_not_found`` (an admin asking for an unknown user).
    """
    target = policy.user_id if user_id == "me" else user_id
    policy.require_self_or_admin(target, "Only the user themselves or an admin may do this")
    try:
        return metadata.get_user(target)
    except NotFoundError as exc:
        raise NotFoundError("No such user", code="user_not_found") from exc


SelfOrAdmin = Annotated[User, Depends(self_or_admin)]


def require(need: Need) -> Any:
    """A dependency for routes with a ``{group_id}`` path parameter: the caller's access,
    which must grant ``need`` (:meth:`~findme.services.policy.Policy.authorize`)."""

    @raises(403, 404)
    def check(group_id: str, policy: Rights) -> GroupAccess:
        return policy.authorize(group_id, need)

    return Depends(check)


GroupReader = Annotated[GroupAccess, require(Need.READ)]
GroupUploader = Annotated[GroupAccess, require(Need.UPLOAD)]
GroupCurator = Annotated[GroupAccess, require(Need.CURATE)]
GroupAdmin = Annotated[GroupAccess, require(Need.ADMINISTER)]


def face_with(need: Need) -> Any:
    """A dependency for routes with a ``{face_id}`` path parameter: the face, when the caller
    has ``need`` in its group (404 no face, 403 ``access_denied``)."""

    @raises(403, 404)
    def check(face_id: str, policy: Rights, metadata: Metadata) -> Face:
        return curation_access.face_for(metadata, policy, face_id, need)

    return Depends(check)


def person_with(need: Need) -> Any:
    """The same for ``{person_id}``: the person, when the caller has ``need`` in its group."""

    @raises(403, 404)
    def check(person_id: str, policy: Rights, metadata: Metadata) -> Person:
        return curation_access.person_for(metadata, policy, person_id, need)

    return Depends(check)


def image_with(need: Need) -> Any:
    """The same for ``{image_id}``: the image, when the caller has ``need`` in its group."""

    @raises(403, 404)
    def check(image_id: str, policy: Rights, metadata: Metadata) -> Image:
        return curation_access.image_for(metadata, policy, image_id, need)

    return Depends(check)


Page = Annotated[PageParams, Depends()]


# --- rate limits ------------------------------------------------------------------------------
def requires_token(route: object) -> bool:
    """Whether ``route`` (an ``APIRoute``) needs a bearer token: ``current_user`` is among its
    dependencies (``CurrentUser``, ``AdminUser``, ``GroupMember``... all build on it)."""
    dependant = getattr(route, "dependant", None)
    return dependant is not None and _depends_on(dependant, current_user)


def _depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return dependant.call is call or any(_depends_on(d, call) for d in dependant.dependencies)


async def body_phone(request: Request) -> str | None:
    """The E.164 ``phone_number`` of a token-less route's JSON or form body, else ``None``.

    Only read on routes that need no token (their bodies are small, and already parsed and
    cached by FastAPI); a malformed number gives ``None`` (the route itself refuses it).
    """
    if requires_token(request.scope.get("route")):
        return None
    content_type = request.headers.get("content-type", "")
    raw: object = None
    if content_type.startswith("application/json"):
        try:
            data = json.loads(await request.body())
        except ValueError:
            return None
        raw = data.get("phone_number") if isinstance(data, dict) else None
    elif content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raw = (await request.form()).get("phone_number")
    if not isinstance(raw, str):
        return None
    try:
        return normalize_phone(raw)
    except InvalidInputError:
        return None


def _user_or_address(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is not None:
        try:
            settings: Settings = request.app.state.settings
            claims = TokenService(settings, jwt_secret(request)).verify(credentials.credentials)
            return f"user:{claims.sub}"
        except FindMeError:
            pass  # the auth dependency reports the bad token; count it by address here
    return f"ip:{client_address(request)}"


@raises(429, 503)
def enforce_rate_limit(
    request: Request,
    credentials: BearerCredentials,
    settings: SettingsDep,
    limiter: Counters,
    phone: Annotated[str | None, Depends(body_phone)],
) -> None:
    """Count this request per route and caller; 429 ``rate_limited`` past a limit.

    Routes that require a token count per user (per address when the token is bad); every
    other route counts per client address and per ``phone_number`` in the body, whatever
    token is attached (see :mod:`findme.web.ratelimit`). The counter closest to refusing is
    kept on ``request.state`` and turned into ``X-RateLimit-*`` headers by the middleware.
    The counters live in DynamoDB in AWS: when it fails, 503 ``dependency_unavailable``.
    """
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    limits = RouteLimit.of_route(
        getattr(route, "openapi_extra", None), settings.rate_limit_per_minute
    )
    if requires_token(route):
        callers = [(_user_or_address(request, credentials), limits.limit)]
    else:
        callers = [(f"ip:{client_address(request)}", limits.limit)]
        if phone is not None:
            callers.append((f"phone:{phone}", limits.phone_limit))
    state = binding(
        [
            limiter.hit(f"{request.method} {path} | {caller}", limit, limits.window_s)
            for caller, limit in callers
        ]
    )
    setattr(request.state, STATE_ATTR, state)
    if not state.allowed:
        raise RateLimitedError("Too many requests; slow down", retry_after_s=state.retry_after_s)
