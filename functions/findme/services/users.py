"""Registered users: registration with a selfie, sign-in by OTP, more selfies, deletion.

A user's *reference faces* are the faces of their selfies: the embedding goes to the vector
index as ``kind="reference"`` with ``user_id`` set and ``group_id`` =
:data:`REFERENCE_GROUP` (references belong to no event; queries for group photos are
always filtered by group and ``kind="face"``, so they never see them), the selfie original to
``selfies/{user_id}/{face_id}{ext}``, and a :class:`~findme.domain.records.ReferenceFace`
item links them.

Selfie acceptance (:func:`check_selfie`), thresholds from ``Settings.selfie_*``: one face
that is clearly the subject; its shorter box side ≥ ``selfie_min_face_size_px`` pixels;
detector confidence ≥ ``selfie_min_confidence``; blur score ≥ ``selfie_blur_threshold`` (the
normalised variance of the Laplacian from the quality model). Bystanders do not make a
selfie ambiguous: faces far behind (tiny), unclear ones (low confidence, out of focus) and
faces much less prominent than the subject (:func:`findme.domain.faces.dominant_face`: size
and centrality, with a margin) are left out. Otherwise 422 ``face_requirement`` with a
``reason``: ``no_face``, ``several_faces`` (two or more faces of similar prominence),
``too_small``, ``low_confidence``, ``too_blurry``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from findme.config import Settings
from findme.domain.faces import DetectedFace, dominant_face
from findme.domain.keys import KeyScheme
from findme.domain.records import ReferenceFace, Role, User
from findme.errors import (
    AuthenticationError,
    ConflictError,
    FaceRequirementError,
    FindMeError,
    InvalidInputError,
    NotFoundError,
)
from findme.observability import logger
from findme.ports import (
    FaceEngine,
    FaceVector,
    GroupRepository,
    ObjectStore,
    OtpRepository,
    PersonLinkRepository,
    PersonRepository,
    UserRepository,
    VectorIndex,
)
from findme.services import selfie_uploads
from findme.services.auth import IssuedToken, OtpService, Principal, TokenService, normalize_phone
from findme.services.media import check_image


class DeleteUserStore(
    UserRepository, OtpRepository, GroupRepository, PersonRepository, PersonLinkRepository, Protocol
):
    """The metadata repositories :func:`delete_user` uses."""


#: ``group_id`` payload of reference (selfie) vectors; never a real group's id.
REFERENCE_GROUP = "__references__"
#: Faces smaller than this fraction of the minimum selfie face size are background noise.
BACKGROUND_FACE_FRACTION = 0.5
MAX_REFERENCE_FACES = 10


@dataclass(frozen=True, slots=True)
class Registration:
    user: User
    token: IssuedToken
    face_id: str


def check_selfie(
    faces: list[DetectedFace], settings: Settings, *, width: int, height: int
) -> DetectedFace:
    """The one acceptable face of a selfie: its subject.

    Faces that cannot be the subject are set aside first: those whose shorter side is below
    half of ``selfie_min_face_size_px`` (background, a passer-by far behind), then those the
    selfie itself would refuse as unclear (confidence below ``selfie_min_confidence``, blur
    score below ``selfie_blur_threshold``: people behind a selfie-taker are out of focus).
    Of the rest the subject is the :func:`~findme.domain.faces.dominant_face` (size and
    centrality, :data:`~findme.domain.faces.DOMINANCE_MARGIN`); when no face clears the
    first two filters the dominant of all faces is checked (and refused for its reason).

    Args:
        faces: the detected faces.
        settings: the ``selfie_*`` thresholds.
        width, height: the photo's size in pixels.

    Raises:
        FaceRequirementError: with ``reason`` (see the module docstring) and ``face_count``.
    """
    if not faces:
        raise FaceRequirementError(
            "No face was found in the selfie", reason="no_face", face_count=0
        )
    min_side = settings.selfie_min_face_size_px
    present = [
        f for f in faces if min(f.bbox.w, f.bbox.h) >= min_side * BACKGROUND_FACE_FRACTION
    ] or list(faces)
    clear = [f for f in present if _clear(f, settings)]
    pool = clear or present
    face = dominant_face(pool, width, height)
    if face is None:
        raise FaceRequirementError(
            f"The selfie shows {len(pool)} faces of similar size; send a photo of you alone "
            "(or with you clearly in front)",
            reason="several_faces",
            face_count=len(pool),
        )
    side = min(face.bbox.w, face.bbox.h)
    if side < min_side:
        raise FaceRequirementError(
            f"The face is too small ({side} px; at least {min_side} px): come closer",
            reason="too_small",
            face_count=len(faces),
            face_size_px=side,
        )
    if face.confidence < settings.selfie_min_confidence:
        raise FaceRequirementError(
            "The face is not clear enough (low detection confidence)",
            reason="low_confidence",
            face_count=len(faces),
        )
    if face.quality is not None and face.quality.blur_score < settings.selfie_blur_threshold:
        raise FaceRequirementError(
            "The selfie is too blurry", reason="too_blurry", face_count=len(faces)
        )
    if face.embedding is None:
        raise FaceRequirementError(
            "The face could not be embedded", reason="no_embedding", face_count=len(faces)
        )
    return face


def _clear(face: DetectedFace, settings: Settings) -> bool:
    """Whether a face is sharp and certain enough to be a selfie's subject."""
    blurred = face.quality is not None and face.quality.blur_score < settings.selfie_blur_threshold
    return face.confidence >= settings.selfie_min_confidence and not blurred


def analyze_selfie(engine: FaceEngine, data: bytes, settings: Settings) -> DetectedFace:
    """Check limits, detect and embed, then :func:`check_selfie`.

    Raises:
        InvalidImageError / UnsupportedMediaTypeError / ImageTooLargeError: bad file.
        FaceRequirementError: not exactly one acceptable face.
    """
    check_image(data, "selfie", settings)
    analysis = engine.analyze(data, embed=True, quality=True, crops=True)
    return check_selfie(analysis.faces, settings, width=analysis.width, height=analysis.height)


def add_reference_face(
    *,
    metadata: UserRepository,
    objects: ObjectStore,
    vectors: VectorIndex,
    settings: Settings,
    user_id: str,
    data: bytes,
    face: DetectedFace,
) -> str:
    """Store a checked selfie as a reference face -> its ``face_id``.

    Order: S3 original (and the face crop, the selfie's thumbnail), vector, then the item;
    on failure the first two are removed again.

    Raises:
        InvalidInputError: ``too_many_selfies`` past :data:`MAX_REFERENCE_FACES`.
        DependencyError: a store failed.
    """
    if len(metadata.list_reference_faces(user_id)) >= MAX_REFERENCE_FACES:
        raise InvalidInputError(
            f"At most {MAX_REFERENCE_FACES} selfies per user", code="too_many_selfies"
        )
    assert face.embedding is not None
    checked = check_image(data, "selfie", settings)
    face_id = str(uuid.uuid4())
    keys = KeyScheme.from_settings(settings)
    key = keys.selfie(user_id, face_id, checked.ext)
    thumbnail = keys.selfie_thumbnail(user_id, face_id) if face.crop_jpeg else None
    objects.put(key, data, checked.content_type, {"user-id": user_id})
    try:
        if thumbnail is not None and face.crop_jpeg is not None:
            objects.put(thumbnail, face.crop_jpeg, "image/jpeg", {"user-id": user_id})
        vectors.upsert(
            [
                FaceVector(
                    face_id=face_id,
                    group_id=REFERENCE_GROUP,
                    image_id=face_id,
                    vector=face.embedding,
                    kind="reference",
                    user_id=user_id,
                )
            ]
        )
        metadata.put_reference_face(
            ReferenceFace(user_id=user_id, face_id=face_id, s3_key=key, thumbnail_key=thumbnail)
        )
    except FindMeError:
        objects.delete([k for k in (key, thumbnail) if k])
        vectors.delete_faces([face_id])
        raise
    return face_id


def register(
    *,
    metadata: UserRepository,
    objects: ObjectStore,
    vectors: VectorIndex,
    engine: FaceEngine,
    otps: OtpService,
    tokens: TokenService,
    settings: Settings,
    name: str,
    phone_number: str,
    otp: str,
    selfie: bytes | None = None,
    selfie_key: str | None = None,
) -> Registration:
    """Register a user: phone OTP + a selfie with exactly one acceptable face.

    The selfie is ``selfie`` (the request's file) or ``selfie_key``, a presigned upload in this
    phone's slot (:mod:`findme.services.selfie_uploads`), read only once the code is right and
    deleted once the user exists. The code is checked first (a wrong code is 401 whatever the
    phone and the selfie), and consumed only after the selfie passed, so a bad selfie costs
    no new SMS. The user becomes ``admin`` when the phone is in ``Settings.admin_phones``.

    Raises:
        InvalidInputError: bad name/phone; neither or both of ``selfie`` and ``selfie_key``.
        AuthenticationError: wrong, expired or used code (401), checked first.
        ConflictError: ``phone_registered`` (use ``POST /auth/token``), for a right code.
        NotFoundError: ``selfie_upload_not_found``: no such upload in this phone's slot.
        FaceRequirementError: see :func:`check_selfie` (422).
    """
    if (selfie is None) == (selfie_key is None):
        raise InvalidInputError("Send either a selfie file or a selfie_key", field="selfie")
    clean_name = " ".join(name.split())
    if not clean_name or len(clean_name) > 100:
        raise InvalidInputError("name must be 1-100 characters", field="name")
    phone = normalize_phone(phone_number)
    # The code first: a wrong code is 401 whether or not the phone is registered (no phone
    # enumeration) and before any image work; it is consumed only once all else passed.
    otps.verify(phone, otp, consume=False)
    if metadata.find_user_by_phone(phone) is not None:
        raise ConflictError(
            "This phone number is already registered; sign in with POST /auth/token",
            code="phone_registered",
        )
    if selfie is None:
        assert selfie_key is not None
        slot = selfie_uploads.phone_slot(otps.phone_slot(phone))
        selfie = selfie_uploads.read(objects, settings, slot, selfie_key)
    face = analyze_selfie(engine, selfie, settings)
    otps.consume(phone, otp)
    role = Role.ADMIN if phone in settings.admin_phones else Role.MEMBER
    user = User(user_id=str(uuid.uuid4()), phone_number=phone, name=clean_name, role=role)
    metadata.put_user(user)
    try:
        face_id = add_reference_face(
            metadata=metadata,
            objects=objects,
            vectors=vectors,
            settings=settings,
            user_id=user.user_id,
            data=selfie,
            face=face,
        )
    except FindMeError:
        metadata.delete_user(user.user_id)
        raise
    selfie_uploads.discard(objects, selfie_key)
    logger.info("user registered", extra={"user_id": user.user_id, "role": str(role)})
    return Registration(user=user, token=tokens.issue(user), face_id=face_id)


def sign_in(
    *, metadata: UserRepository, otps: OtpService, tokens: TokenService, phone_number: str, otp: str
) -> tuple[User, IssuedToken]:
    """Exchange phone + OTP for a token (returning users).

    Only the phone's holder has the code, so ``unknown_user`` tells nobody else whether the
    phone is registered; the code is then kept (not consumed) so that the app can go on to
    ``POST /register`` with it and a selfie, without a second SMS.

    Raises:
        AuthenticationError: bad code; ``unknown_user`` when no user has this phone.
    """
    phone = otps.verify(phone_number, otp, consume=False)
    user = metadata.find_user_by_phone(phone)
    if user is None:
        raise AuthenticationError(
            "No user with this phone number; register first", code="unknown_user"
        )
    otps.consume(phone, otp)
    return user, tokens.issue(user)


def delete_user(
    *,
    metadata: DeleteUserStore,
    objects: ObjectStore,
    vectors: VectorIndex,
    principal: Principal,
) -> None:
    """Remove the caller everywhere: reference vectors, selfie originals, reference items,
    memberships, person links (persons unlinked), the OTP record, then the user item.

    Photos the user uploaded to groups stay (they belong to the event). Each step is
    idempotent, so a retry after a failure finishes the job.
    """
    user_id = principal.user_id
    vectors.delete_user(user_id)
    refs = metadata.list_reference_faces(user_id)
    if refs:
        objects.delete([k for ref in refs for k in (ref.s3_key, ref.thumbnail_key) if k])
    metadata.delete_reference_faces(user_id)
    for link in metadata.list_person_links(user_id=user_id):
        metadata.delete_person_link(link.group_id, link.person_id)
        try:
            person = metadata.get_person(link.person_id)
        except FindMeError:
            continue
        if person.linked_user_id == user_id:
            person.linked_user_id = None
            metadata.put_person(person)
    for membership in metadata.list_groups_of_user(user_id):
        metadata.delete_membership(membership.group_id, user_id)
    metadata.delete_otp(principal.phone_number)
    metadata.delete_user(user_id)


def list_selfies(metadata: UserRepository, user_id: str) -> list[ReferenceFace]:
    """A user's reference faces (selfies), oldest first."""
    return sorted(metadata.list_reference_faces(user_id), key=lambda r: (r.created_at, r.face_id))


def delete_selfie(
    *,
    metadata: UserRepository,
    objects: ObjectStore,
    vectors: VectorIndex,
    user_id: str,
    face_id: str,
) -> int:
    """Remove one reference face: its vector, its selfie and crop, then its item.

    The last one is kept: a user without a selfie cannot be matched to any photo (delete the
    account instead, ``DELETE /users/me``).

    Returns:
        The user's reference faces left.

    Raises:
        NotFoundError: ``selfie_not_found``.
        ConflictError: ``last_selfie``.
    """
    refs = metadata.list_reference_faces(user_id)
    ref = next((r for r in refs if r.face_id == face_id), None)
    if ref is None:
        raise NotFoundError("No such selfie", code="selfie_not_found", face_id=face_id)
    if len(refs) == 1:
        raise ConflictError(
            "This is the only selfie: add another before removing it (or delete the account)",
            code="last_selfie",
        )
    vectors.delete_faces([face_id])
    objects.delete([k for k in (ref.s3_key, ref.thumbnail_key) if k])
    metadata.delete_reference_face(user_id, face_id)
    return len(refs) - 1


def reference_vectors(
    metadata: UserRepository, vectors: VectorIndex, user_id: str
) -> list[FaceVector]:
    """The user's reference embeddings (``(128,) float32`` each, L2-normalised)."""
    refs = metadata.list_reference_faces(user_id)
    if not refs:
        return []
    return vectors.get([ref.face_id for ref in refs])
