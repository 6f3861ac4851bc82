"""Stateless face processing (``/get-faces``, ``/get-features``, ``/get-embedding``) and
``/search-face``. Multipart field ``image``, or for a photo over the request body limit
(about 4 MB on AWS) ``selfie_key``: a presigned upload of ``POST /users/me/selfie-uploads``
(used once, then deleted). A missing, empty or broken file is 400 (also when both or neither
of ``image`` and ``selfie_key`` is sent), another file type 415, too many bytes or pixels 413
(the same answers as every route taking a photo, see ``docs/errors.md``).

These routes need a signed-in caller (the work is CPU-heavy: ~15 ms detection plus
~30-60 ms per face for embedding and attributes on 2 vCPUs) and run in the threadpool.
The response dicts come from :mod:`findme.web.face_views` (shared with the CLI).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, UploadFile

from findme.services import selfie_uploads
from findme.services.auth import Principal
from findme.services.media import check_image
from findme.services.search import search_by_face
from findme.web import deps
from findme.web import face_views as faces_service
from findme.web.errors import error_responses
from findme.web.schemas.faces import SearchMatch, SearchOut
from findme.web.schemas.forms import MULTIPART, NO_IMAGE, NO_SEARCH, FaceImageForm, SearchFaceForm
from findme.web.uploads import read_photo

router = APIRouter(tags=["faces"])

_ERRORS = error_responses(400, 401, 404, 413, 415, 422, 429)


def _image(
    image: UploadFile | None,
    selfie_key: str | None,
    principal: Principal,
    settings: deps.SettingsDep,
    objects: deps.Objects,
) -> bytes:
    """The request's photo (file or presigned upload), checked as every photo route does.

    Raises:
        InvalidImageError (400), UnsupportedMediaTypeError (415), ImageTooLargeError (413),
        InvalidInputError (400, both or neither given), NotFoundError (404, no such upload).
    """
    data = read_photo(
        image,
        selfie_key,
        settings=settings,
        objects=objects,
        slot=selfie_uploads.user_slot(principal.user_id),
    )
    name = (image.filename if image is not None else None) or selfie_key or ""
    return check_image(data, name, settings).data


_FACE = {
    "face_id": "5d1c6a8e-0f4e-5a51-9d3b-2c4f6a8b0e11",
    "face_b64": "/9j/4AAQSkZJRgABAQAAAQABAAD...",
    "facial_area": {"x": 412, "y": 188, "w": 126, "h": 158},
    "confidence": 0.9312,
}
_FEATURES = {
    "emotion": "happy",
    "emotion_scores": {
        "happy": 0.91,
        "neutral": 0.06,
        "surprise": 0.01,
        "sad": 0.01,
        "angry": 0.005,
        "disgust": 0.0025,
        "fear": 0.0025,
    },
    "age": 34,
    "age_range": [26, 42],
    "gender": "female",
    "gender_confidence": 0.97,
    "landmarks": {
        "left_eye": [448.2, 241.5],
        "right_eye": [503.9, 240.8],
        "nose": [477.0, 275.3],
        "mouth_left": [452.6, 309.9],
        "mouth_right": [499.4, 309.1],
    },
}


def _example(body: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/json": {"example": body}}}, **_ERRORS}


@router.post(
    "/get-faces",
    summary="Detect faces: boxes, confidences and JPEG crops",
    responses=_example({"faces": [_FACE]}),
)
def get_faces(
    principal: deps.CurrentUser,
    settings: deps.SettingsDep,
    engine: deps.Engine,
    objects: deps.Objects,
    form: Annotated[FaceImageForm, MULTIPART] = NO_IMAGE,
) -> dict[str, Any]:
    """``{"faces": [{"face_id", "face_b64", "facial_area": {"x","y","w","h"}, "confidence"}]}``;
    pixel coordinates of the EXIF-oriented original; ``face_b64`` is a base64 JPEG crop."""
    data = _image(form.image, form.selfie_key, principal, settings, objects)
    analysis = engine.analyze(data, embed=False, quality=False, attributes=False, crops=True)
    selfie_uploads.discard(objects, form.selfie_key)
    return faces_service.faces_response(analysis, faces_service.image_id_for_bytes(data))


@router.post(
    "/get-features",
    summary="Faces with emotion, age, gender and landmarks",
    responses=_example(
        {"faces": [{**{k: v for k, v in _FACE.items() if k != "face_b64"}, "features": _FEATURES}]}
    ),
)
def get_features(
    principal: deps.CurrentUser,
    settings: deps.SettingsDep,
    engine: deps.Engine,
    objects: deps.Objects,
    form: Annotated[FaceImageForm, MULTIPART] = NO_IMAGE,
) -> dict[str, Any]:
    """Per face ``features``: ``emotion`` (appearance only, not a feeling), ``age`` with
    ``age_range`` (the model's MAE is 5.6-8 years), ``gender``, ``landmarks`` (pixels).
    A switched-off model gives ``null`` values and an ``unavailable`` reason."""
    data = _image(form.image, form.selfie_key, principal, settings, objects)
    analysis = engine.analyze(data, embed=False, quality=False, attributes=True, crops=False)
    selfie_uploads.discard(objects, form.selfie_key)
    return faces_service.features_response(analysis, faces_service.image_id_for_bytes(data))


@router.post(
    "/get-embedding",
    summary="Faces with crops, features, quality and the 128-d embedding",
    responses=_example(
        {
            "faces": [
                {
                    **_FACE,
                    "features": _FEATURES,
                    "quality": {
                        "blur_score": 0.82,
                        "brightness_score": 0.74,
                        "confidence": 0.93,
                        "overall_quality": 0.81,
                        "quality_grade": "B",
                        "issues": [],
                    },
                    "embedding": [0.0123, -0.0456, "... 128 floats, L2-normalised"],
                }
            ]
        }
    ),
)
def get_embedding(
    principal: deps.CurrentUser,
    settings: deps.SettingsDep,
    engine: deps.Engine,
    objects: deps.Objects,
    form: Annotated[FaceImageForm, MULTIPART] = NO_IMAGE,
) -> dict[str, Any]:
    """``embedding`` is the SFace vector (128 floats, L2-normalised: cosine similarity is
    the dot product; the same person typically scores ≥ 0.40)."""
    data = _image(form.image, form.selfie_key, principal, settings, objects)
    analysis = engine.analyze(data, embed=True, quality=True, attributes=True, crops=True)
    selfie_uploads.discard(objects, form.selfie_key)
    return faces_service.embedding_response(analysis, faces_service.image_id_for_bytes(data))


@router.post(
    "/search-face",
    response_model=SearchOut,
    summary="Find photos with the same person as in the image",
    responses=_ERRORS,
)
def search_face(
    policy: deps.Rights,
    settings: deps.SettingsDep,
    engine: deps.Engine,
    metadata: deps.Metadata,
    vectors: deps.Vectors,
    objects: deps.Objects,
    form: Annotated[SearchFaceForm, MULTIPART] = NO_SEARCH,
) -> SearchOut:
    """Matches ``{"image_s3_path", "face_id", "similarity_score", "person_id"}``, best
    first, only in groups the caller may search: groups where they see everything (UPLOAD:
    photographers, owners; admins any group they name), and groups where they are a member
    only when the probe face is the caller's own (members can find themselves, not
    others)."""
    data = _image(form.image, form.selfie_key, policy.principal, settings, objects)
    analysis = engine.analyze(data, embed=True, quality=False, attributes=False, crops=False)
    selfie_uploads.discard(objects, form.selfie_key)
    probes = [f.embedding for f in analysis.faces if f.embedding is not None]
    matches = search_by_face(
        metadata=metadata,
        vectors=vectors,
        settings=settings,
        policy=policy,
        probes=probes,
        threshold=settings.match_threshold if form.confidence is None else form.confidence,
        group_id=form.group_id,
        limit=form.limit,
    )
    # Images deleted since they were indexed are skipped by get_images.
    keys = {i.image_id: i.s3_key for i in metadata.get_images(m.image_id for m in matches)}
    out: list[SearchMatch] = []
    for match in matches:
        key = keys.get(match.image_id)
        if key is None:
            continue
        out.append(
            SearchMatch(
                image_s3_path=f"s3://{settings.bucket}/{key}",
                face_id=match.face_id,
                similarity_score=match.similarity,
                person_id=match.person_id,
                image_id=match.image_id,
                group_id=match.group_id,
            )
        )
    return SearchOut(matches=out)
