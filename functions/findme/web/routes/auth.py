"""Phone OTP, registration with a selfie, tokens for returning users, the caller's account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from findme.services import selfie_uploads
from findme.services import users as users_service
from findme.web import deps
from findme.web.errors import error_responses
from findme.web.ratelimit import RouteLimit
from findme.web.schemas.auth import (
    OtpOut,
    OtpRequest,
    RegisterOut,
    RegisterSelfieUploadRequest,
    SelfieDeleted,
    SelfieList,
    SelfieOut,
    SelfieUploadOut,
    SelfieUploadRequest,
    SelfieView,
    TokenOut,
    TokenRequest,
    UserOut,
)
from findme.web.schemas.common import MessageOut
from findme.web.schemas.forms import MULTIPART, NO_SELFIE, AddSelfieForm, RegisterForm
from findme.web.uploads import read_photo, read_upload

router = APIRouter(tags=["auth"])

#: Sign-in limits, per 5-minute window: per client address sized for a crowd behind one venue Wi-Fi
#: or carrier NAT (docs/compatibility.md, sign-in bursts: 300 attendees register from one address
#: within 5 minutes; 600 leaves each a second try), and per phone number in the body, which bounds
#: code guessing and resends to one number. SMS pumping is defended per phone, per country and by an
#: hourly SMS budget (findme.services.sms_budget), not by address.
SIGN_IN_WINDOW_S = 300
SIGN_IN_PER_ADDRESS = 600
SIGN_IN_PER_PHONE = 10
SIGN_IN_LIMIT = RouteLimit(
    SIGN_IN_PER_ADDRESS, window_s=SIGN_IN_WINDOW_S, per_phone=SIGN_IN_PER_PHONE
)


@router.post(
    "/auth/otp",
    response_model=OtpOut,
    summary="Send a 6-digit sign-in code by SMS",
    openapi_extra=SIGN_IN_LIMIT.extra(),
    responses=error_responses(400, 422, 429),
)
def send_otp(body: OtpRequest, otps: deps.Otps) -> OtpOut:
    """Sends a code valid ``otp_ttl_s`` seconds (300) to ``phone_number`` (E.164; else 400
    ``invalid_phone_number``).

    At most ``otp_sends_per_hour`` codes per phone per hour (429 ``otp_rate_limited``),
    ``sms_per_country_per_hour`` per country calling code (429 ``sms_country_limited``) and
    ``sms_budget_per_hour`` for the whole service (429 ``sms_budget_exhausted``).
    On the local stack the SMS is not sent: ``findme local otp PHONE`` prints the code.
    """
    sent = otps.send(body.phone_number)
    return OtpOut(
        message="Code sent.", expires_in=sent.expires_in, sends_remaining=sent.sends_remaining
    )


def _upload_out(upload: selfie_uploads.SelfieUpload) -> SelfieUploadOut:
    return SelfieUploadOut(
        selfie_key=upload.key,
        url=upload.post.url,
        fields=upload.post.fields,
        expires=upload.post.expires,
        max_bytes=upload.max_bytes,
    )


@router.post(
    "/register/selfie-uploads",
    response_model=SelfieUploadOut,
    summary="A presigned POST for a registration selfie (photos over ~4 MB)",
    openapi_extra=SIGN_IN_LIMIT.extra(),
    responses=error_responses(401, 413, 415, 422, 429),
)
def register_selfie_upload(
    body: RegisterSelfieUploadRequest,
    settings: deps.SettingsDep,
    objects: deps.Objects,
    otps: deps.Otps,
) -> SelfieUploadOut:
    """Needs the phone's valid code from ``POST /auth/otp`` (checked, not used up; 401
    otherwise): the upload goes to this phone's own slot, which only ``/register`` with the
    same phone and code reads. POST ``fields`` + ``file`` to ``url`` within 10 minutes, then
    ``/register`` with ``selfie_key`` instead of the ``selfie`` file."""
    phone = otps.verify(body.phone_number, body.otp, consume=False)
    slot = selfie_uploads.phone_slot(otps.phone_slot(phone))
    return _upload_out(
        selfie_uploads.presign(objects, settings, slot, body.content_type, body.size_bytes)
    )


@router.post(
    "/users/me/selfie-uploads",
    response_model=SelfieUploadOut,
    summary="A presigned POST for a selfie or a face-route photo (photos over ~4 MB)",
    responses=error_responses(401, 413, 415, 422),
)
def my_selfie_upload(
    body: SelfieUploadRequest,
    principal: deps.CurrentUser,
    settings: deps.SettingsDep,
    objects: deps.Objects,
) -> SelfieUploadOut:
    """The upload goes to the caller's own slot; send its ``selfie_key`` to
    ``POST /users/me/selfies`` or a face route (``/get-faces``, ``/get-features``,
    ``/get-embedding``, ``/search-face``) instead of the file. Other users' keys are 404."""
    slot = selfie_uploads.user_slot(principal.user_id)
    return _upload_out(
        selfie_uploads.presign(objects, settings, slot, body.content_type, body.size_bytes)
    )


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=RegisterOut,
    summary="Register with phone, code and a selfie",
    openapi_extra=SIGN_IN_LIMIT.extra(),
    responses=error_responses(400, 401, 404, 409, 413, 415, 422, 429),
)
def register(
    form: Annotated[RegisterForm, MULTIPART],
    settings: deps.SettingsDep,
    metadata: deps.Metadata,
    objects: deps.Objects,
    vectors: deps.Vectors,
    engine: deps.Engine,
    otps: deps.Otps,
    tokens: deps.Tokens,
) -> RegisterOut:
    """Creates the user and returns ``access_token`` (JWT).

    The selfie is the ``selfie`` file, or for a photo over the request body limit (413
    otherwise) the ``selfie_key`` of ``POST /register/selfie-uploads`` (404
    ``selfie_upload_not_found`` for a key of another phone or nothing uploaded).
    It must hold exactly one face of acceptable quality, else 422
    ``face_requirement`` with ``reason``: ``no_face``, ``several_faces``, ``too_small``,
    ``low_confidence`` or ``too_blurry``. A wrong/expired code is 401; a phone already
    registered is 409 ``phone_registered`` (sign in with ``POST /auth/token``).
    """
    selfie, selfie_key = form.selfie, form.selfie_key
    data = None if selfie_key and selfie is None else read_upload(selfie, settings, field="selfie")
    result = users_service.register(
        metadata=metadata,
        objects=objects,
        vectors=vectors,
        engine=engine,
        otps=otps,
        tokens=tokens,
        settings=settings,
        name=form.name,
        phone_number=form.phone_number,
        otp=form.otp,
        selfie=data,
        selfie_key=selfie_key if data is None else None,
    )
    return RegisterOut(
        user_id=result.user.user_id,
        name=result.user.name,
        message="User registered successfully.",
        access_token=result.token.access_token,
        token_type=result.token.token_type,
        expires_in=result.token.expires_in,
        face_id=result.face_id,
    )


@router.post(
    "/auth/token",
    response_model=TokenOut,
    summary="Sign in with phone and code",
    openapi_extra=SIGN_IN_LIMIT.extra(),
    responses=error_responses(400, 401, 422, 429),
)
def token(
    body: TokenRequest, metadata: deps.Metadata, otps: deps.Otps, tokens: deps.Tokens
) -> TokenOut:
    """Exchanges a code from ``POST /auth/otp`` for an access token (returning users)."""
    user, issued = users_service.sign_in(
        metadata=metadata, otps=otps, tokens=tokens, phone_number=body.phone_number, otp=body.otp
    )
    return TokenOut(
        access_token=issued.access_token,
        token_type=issued.token_type,
        expires_in=issued.expires_in,
        user_id=user.user_id,
    )


@router.get("/users/me", response_model=UserOut, summary="The caller's account")
def me(principal: deps.CurrentUser, metadata: deps.Metadata) -> UserOut:
    refs = metadata.list_reference_faces(principal.user_id)
    return UserOut(
        user_id=principal.user_id,
        name=principal.name,
        phone_number=principal.phone_number,
        role=str(principal.role),
        reference_faces=len(refs),
    )


@router.post(
    "/users/me/selfies",
    status_code=status.HTTP_201_CREATED,
    response_model=SelfieOut,
    summary="Add another reference selfie",
    responses=error_responses(400, 401, 404, 413, 415, 422),
)
def add_selfie(
    principal: deps.CurrentUser,
    settings: deps.SettingsDep,
    metadata: deps.Metadata,
    objects: deps.Objects,
    vectors: deps.Vectors,
    engine: deps.Engine,
    form: Annotated[AddSelfieForm, MULTIPART] = NO_SELFIE,
) -> SelfieOut:
    """More reference faces (another angle, glasses off) improve recall; same checks as
    ``/register`` (422 ``face_requirement``); at most 10 per user. A photo over the request
    body limit goes by ``POST /users/me/selfie-uploads`` and ``selfie_key``."""
    selfie_key = form.selfie_key
    data = read_photo(
        form.selfie,
        selfie_key,
        settings=settings,
        objects=objects,
        slot=selfie_uploads.user_slot(principal.user_id),
        field="selfie",
    )
    face = users_service.analyze_selfie(engine, data, settings)
    face_id = users_service.add_reference_face(
        metadata=metadata,
        objects=objects,
        vectors=vectors,
        settings=settings,
        user_id=principal.user_id,
        data=data,
        face=face,
    )
    selfie_uploads.discard(objects, selfie_key)
    count = len(metadata.list_reference_faces(principal.user_id))
    return SelfieOut(face_id=face_id, reference_faces=count, message="Selfie added.")


@router.get(
    "/users/{user_id}/selfies",
    response_model=SelfieList,
    summary="A user's reference selfies, with thumbnails (yours: `me`; admins: anyone's)",
    responses=error_responses(401, 403, 404),
)
def list_selfies(
    user: deps.SelfOrAdmin,
    settings: deps.SettingsDep,
    metadata: deps.Metadata,
    objects: deps.Objects,
) -> SelfieList:
    """Oldest first. ``thumbnail_url`` is a presigned URL of the selfie's face crop (of the
    whole selfie for selfies stored before crops were kept), valid until ``expires``."""
    expires_s = settings.presigned_url_expiry_s
    views = []
    for ref in users_service.list_selfies(metadata, user.user_id):
        url, expires = objects.presigned_get(ref.thumbnail_key or ref.s3_key, expires_s=expires_s)
        views.append(
            SelfieView(
                face_id=ref.face_id, created_at=ref.created_at, thumbnail_url=url, expires=expires
            )
        )
    return SelfieList(user_id=user.user_id, selfies=views)


@router.delete(
    "/users/{user_id}/selfies/{face_id}",
    response_model=SelfieDeleted,
    summary="Remove a reference selfie, never the last one (yours: `me`; admins: anyone's)",
    responses=error_responses(401, 403, 404, 409),
)
def delete_selfie(
    face_id: str,
    user: deps.SelfOrAdmin,
    metadata: deps.Metadata,
    objects: deps.Objects,
    vectors: deps.Vectors,
) -> SelfieDeleted:
    """Its embedding, the selfie and its crop go. 404 ``selfie_not_found``; 409
    ``last_selfie`` for the only one (add another first, or delete the account)."""
    left = users_service.delete_selfie(
        metadata=metadata, objects=objects, vectors=vectors, user_id=user.user_id, face_id=face_id
    )
    return SelfieDeleted(face_id=face_id, reference_faces=left, message="Selfie removed.")


@router.delete(
    "/users/me",
    response_model=MessageOut,
    summary="Delete my account, selfies and face embeddings",
    responses=error_responses(401),
)
def delete_me(
    principal: deps.CurrentUser,
    metadata: deps.Metadata,
    objects: deps.Objects,
    vectors: deps.Vectors,
) -> MessageOut:
    """Removes the user, their selfies and reference embeddings, memberships and person
    links. Photos they uploaded to events stay with the event. The token stops working."""
    users_service.delete_user(
        metadata=metadata, objects=objects, vectors=vectors, principal=principal
    )
    return MessageOut(message="User deleted.")
