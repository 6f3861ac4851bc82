"""Photos: uploads (multipart, Drive link, presigned POSTs), ``GET /get`` (my photos),
image metadata, downloads as ZIP.

Why one module of about 420 lines: one router for the media tag: uploads, my photos, image
details and downloads share its schemas and limits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUploadFile

from findme.config import Settings
from findme.domain.records import Image, JobStatus, JobType, utcnow
from findme.errors import (
    InvalidInputError,
    NotFoundError,
    UnsupportedMediaTypeError,
)
from findme.ports import RemoteFetcher
from findme.services import catalog, drive, media, processing, search
from findme.services.media import CheckedImage, PhotoLinks
from findme.services.policy import Need
from findme.web import deps
from findme.web.errors import error_responses
from findme.web.schemas.common import MessageOut, facial_area
from findme.web.schemas.jobs import JobStarted
from findme.web.schemas.media import (
    DownloadRequest,
    DownloadStatus,
    DriveUpload,
    GetOut,
    ImageDetailOut,
    ImageFaceOut,
    ImageOut,
    ImageUpdate,
    PhotoOut,
    PresignedUpload,
    PresignOut,
    PresignRequest,
    UploadOut,
    image_out,
)
from findme.web.uploads import read_image

router = APIRouter(tags=["media"])

UPLOAD_MESSAGE = "Upload complete. Processing has been triggered."

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files", "group_id"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                        },
                        "group_id": {"type": "string"},
                        "section_id": {"type": "string"},
                    },
                }
            },
            "application/json": {"schema": DriveUpload.model_json_schema()},
        },
    }
}


@router.post(
    "/upload",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=UploadOut,
    summary="Upload photos (multipart `files`, `group_id`, `section_id`?) or a Drive link (JSON)",
    openapi_extra=_UPLOAD_BODY,
    responses=error_responses(400, 401, 403, 404, 413, 415, 422),
)
async def upload(
    request: Request,
    principal: deps.CurrentUser,
    settings: deps.SettingsDep,
    metadata: deps.Metadata,
    objects: deps.Objects,
    fetcher: deps.Fetcher,
) -> UploadOut:
    """UPLOAD in the group (photographer, owner, admin). Multipart: up to ``max_upload_files``
    (50) files of at most ``max_upload_bytes`` (25 MB) each; JSON ``{"drive_url",
    "group_id"}``: a Google Drive share link to one file, or to a shared folder (its photos,
    listed with the Drive API; up to ``max_upload_files`` and 200 MB), fetched server-side
    over HTTPS from Google's hosts only (400 ``drive_folders_unconfigured`` for a folder
    when the deployment has no Drive API key). An optional ``section_id`` (form field or JSON key)
    puts the photos into that section of the group (422 ``unknown_section`` if the group
    has none such). Every file is checked (bytes or pixels 413, type 415, empty or truncated
    400) before anything is stored. API Gateway caps bodies at 10 MB: mobile apps should
    use ``POST /groups/{group_id}/uploads`` (presigned POSTs) instead."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        group_id, section_id, files = await _drive_upload(request, settings, fetcher)
    elif content_type == "multipart/form-data":
        group_id, section_id, files = await _multipart_upload(request, settings)
    else:
        raise UnsupportedMediaTypeError(
            "Send multipart/form-data (files, group_id) or application/json (drive_url, group_id)"
        )
    ids = await run_in_threadpool(
        lambda: media.store_uploads(
            metadata=metadata,
            objects=objects,
            settings=settings,
            principal=principal,
            group_id=group_id,
            files=files,
            section_id=section_id,
        )
    )
    return UploadOut(message=UPLOAD_MESSAGE, image_ids=ids)


async def _drive_upload(
    request: Request, settings: Settings, fetcher: RemoteFetcher
) -> tuple[str, str | None, list[CheckedImage]]:
    """A JSON ``{"drive_url", "group_id", "section_id"?}`` body -> ``(group_id, section_id,
    the link's photos fetched and checked)``."""
    try:
        body = DriveUpload.model_validate_json(await request.body())
    except ValidationError as exc:
        raise InvalidInputError(
            'Body must be {"drive_url", "group_id"}', code="validation_error"
        ) from exc
    files = await run_in_threadpool(drive.fetch_drive, body.drive_url, settings, fetcher)
    return body.group_id, body.section_id, files


async def _multipart_upload(
    request: Request, settings: Settings
) -> tuple[str, str | None, list[CheckedImage]]:
    """A multipart form (``files``, ``group_id``, ``section_id``?) -> ``(group_id,
    section_id, the files read and checked)``; at most ``max_upload_files`` files."""
    form = await request.form(
        max_files=settings.max_upload_files + 1, max_fields=20, max_part_size=64 * 1024
    )
    group_field = form.get("group_id")
    if not isinstance(group_field, str) or not group_field.strip():
        raise InvalidInputError("group_id is required", code="validation_error", field="group_id")
    section_field = form.get("section_id")
    section_id = section_field if isinstance(section_field, str) else None
    uploads = [f for f in form.getlist("files") if isinstance(f, StarletteUploadFile)]
    media.check_file_count(len(uploads), settings)
    files = [
        read_image(item, settings, field="files")  # type: ignore[arg-type]
        for item in uploads
    ]
    return group_field.strip(), section_id, files


@router.post(
    "/groups/{group_id}/uploads",
    response_model=PresignOut,
    summary="Presigned POSTs to upload photos straight to S3",
    responses=error_responses(400, 401, 403, 404, 413, 415, 422),
)
def presign(
    body: PresignRequest,
    group: deps.GroupUploader,
    settings: deps.SettingsDep,
    metadata: deps.Metadata,
    objects: deps.Objects,
) -> PresignOut:
    """One presigned POST per file: send a ``multipart/form-data`` POST to ``url`` with every
    entry of ``fields`` and then the file as the field ``file``, before ``expires``. S3
    enforces the exact key, the content type and 1..``max_bytes`` bytes. The upload
    triggers processing like ``/upload``. An optional ``section_id`` puts every photo of the
    request into that section (a signed ``x-amz-meta-section-id`` field the client cannot
    change; 422 ``unknown_section`` if the group has none such). UPLOAD (photographer,
    owner, admin)."""
    posts = media.presign_uploads(
        metadata=metadata,
        objects=objects,
        settings=settings,
        access=group,
        files=[(f.file_name, f.content_type, f.size_bytes) for f in body.files],
        section_id=body.section_id,
    )
    return PresignOut(
        uploads=[
            PresignedUpload(
                image_id=image_id,
                file_name=name,
                key=post.key,
                url=post.url,
                fields=post.fields,
                expires=post.expires,
                max_bytes=settings.max_upload_bytes,
            )
            for image_id, name, post in posts
        ]
    )


@router.get(
    "/get",
    response_model=GetOut,
    summary="My photos (or, for admins and organisers, a user's or a group's)",
    responses=error_responses(400, 401, 403, 404),
)
def get_photos(
    policy: deps.Rights,
    settings: deps.SettingsDep,
    metadata: deps.Metadata,
    links: deps.PhotoLinker,
    vectors: deps.Vectors,
    user_id: Annotated[str | None, Query(description="Whose photos (default: mine).")] = None,
    phone_number: Annotated[str | None, Query(description="Whose photos, by phone.")] = None,
    group_id: Annotated[str | None, Query(description="Only this group.")] = None,
) -> GetOut:
    """``personal_images``: photos whose faces match the user's selfies (and the other
    photos of the matched person), best ``similarity_score`` first; ``common_images``: the
    common photos of the groups searched. URLs are presigned GETs valid
    ``presigned_url_expiry_s`` seconds (``expires``).

    A ``phone_number`` not in E.164 form is 400 ``invalid_phone_number``. Another user's
    photos (by ``user_id`` or ``phone_number``) are for admins, and for the owners of that
    user's groups (403 ``access_denied`` otherwise; an admin asking for an unknown user gets
    404 ``user_not_found``). With only ``group_id``, whoever sees the whole group (UPLOAD:
    photographers, owners, admins) gets every photo of it; members get their own.
    """
    asks_other = bool(phone_number) or (bool(user_id) and user_id != policy.user_id)
    if group_id and not asks_other and policy.allows(group_id, Need.UPLOAD):
        found = search.group_photos(metadata, policy.authorize(group_id, Need.UPLOAD))
    else:
        found = search.photos_for(
            metadata=metadata,
            vectors=vectors,
            settings=settings,
            policy=policy,
            user_id=user_id,
            phone_number=phone_number,
            group_id=group_id,
        )
    personal = [_photo(links(image), image, score) for image, score in found.personal]
    common = [_photo(links(image), image, None) for image in found.common]
    return GetOut(personal_images=personal, common_images=common)


def _photo(links: PhotoLinks, image: Image, score: float | None) -> PhotoOut:
    return PhotoOut(
        image_id=image.image_id,
        group_id=image.group_id,
        url=links.url,
        thumbnail_url=links.thumbnail_url,
        preview_url=links.preview_url,
        expires=links.expires,
        similarity_score=score,
    )


@router.get(
    "/images/{image_id}",
    response_model=ImageDetailOut,
    summary="An image's metadata, its faces with their persons, and signed URLs",
    responses=error_responses(401, 403, 404),
)
def get_image(
    image: Annotated[Image, deps.image_with(Need.UPLOAD)],
    metadata: deps.Metadata,
    links: deps.PhotoLinker,
) -> ImageDetailOut:
    """UPLOAD in the image's group (photographer, owner, admin). ``faces`` lists every face
    with its ``facial_area`` (original-image pixels, as ``width`` x ``height``) and its
    person (``person_id``, ``person_name``), in detection order: enough for a viewer to
    draw named boxes on the photo at ``url`` (or the ``preview_url`` rendition, scaled)."""
    faces = media.faces_with_persons(metadata, image.image_id)
    return ImageDetailOut(
        **image_out(image, links(image)).model_dump(),
        faces=[
            ImageFaceOut(
                face_id=face.face_id,
                facial_area=facial_area(face.bbox),
                confidence=face.confidence,
                person_id=face.person_id,
                person_name=person.name if person else None,
            )
            for face, person in faces
        ],
    )


@router.put(
    "/images/{image_id}",
    response_model=ImageOut,
    summary="Update tags, description, section, common flag",
    responses=error_responses(400, 401, 403, 404, 422),
)
def update_image(
    body: ImageUpdate,
    image: Annotated[Image, deps.image_with(Need.CURATE)],
    metadata: deps.Metadata,
) -> ImageOut:
    """Only the fields sent change; ``section_id: null`` clears the section. CURATE (owner,
    admin)."""
    updated = media.update_image(
        metadata,
        image,
        tags=body.tags,
        description=body.description,
        section_id=body.section_id,
        section_given="section_id" in body.model_fields_set,
        common=body.common,
    )
    return image_out(updated)


@router.delete(
    "/images/{image_id}",
    response_model=MessageOut,
    summary="Delete an image everywhere",
    responses=error_responses(401, 403, 404),
)
def delete_image(
    image: Annotated[Image, deps.image_with(Need.UPLOAD)],
    metadata: deps.Metadata,
    objects: deps.Objects,
    vectors: deps.Vectors,
) -> MessageOut:
    """The original, its thumbnail and preview, face thumbnails, face items, vectors and
    person counts go; the image leaves the group's common photos. UPLOAD (photographer,
    owner, admin). Repeat on a 503: the image item goes last, so a retry finishes the
    delete."""
    catalog.delete_image(image.image_id, metadata=metadata, vectors=vectors, store=objects)
    return MessageOut(message="Image deleted.")


@router.post(
    "/download",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobStarted,
    summary="Build a ZIP of photos you may see",
    responses=error_responses(400, 401, 403, 404, 422),
)
def download(
    body: DownloadRequest,
    policy: deps.Rights,
    settings: deps.SettingsDep,
    metadata: deps.Metadata,
    vectors: deps.Vectors,
    jobs: deps.Jobs,
) -> JobStarted:
    """202 ``{"job_id", "status": "pending", "message"}``; poll ``GET /download/{job_id}``.
    Every id must be an image the caller may see (403 ``access_denied`` with ``image_ids``
    otherwise; 404 for ids that do not exist). The ZIP is kept ``archive_retention_days``
    (7) days."""
    image_ids = search.downloadable_image_ids(
        metadata=metadata,
        vectors=vectors,
        settings=settings,
        policy=policy,
        image_ids=body.image_ids,
    )
    job = processing.start_download(
        metadata=metadata,
        orchestrator=jobs,
        settings=settings,
        principal=policy.principal,
        image_ids=image_ids,
    )
    return JobStarted(job_id=job.job_id, status="pending", message="Download is being prepared.")


@router.get(
    "/download/{job_id}",
    response_model=DownloadStatus,
    summary="A download's status and, when ready, its signed URL",
    responses=error_responses(401, 404),
)
def download_status(
    job_id: str,
    policy: deps.Rights,
    metadata: deps.Metadata,
    objects: deps.Objects,
) -> DownloadStatus:
    """``status`` ``pending|running|ready|failed``; ``url``/``expires`` once ``ready``.

    The URL is signed afresh on every read (until the archive's 7-day expiry): a URL signed
    by a Lambda role's temporary credentials stops working when they expire, hours before.
    """
    job = processing.job_for(metadata, policy, job_id)
    if job.job_type is not JobType.DOWNLOAD:
        raise NotFoundError("No such download")
    result = job.result or {}
    ready = job.status is JobStatus.READY
    url: str | None = None
    expires: datetime | None = None
    if ready and result.get("key"):
        left_s = int((job.expires_at - utcnow()).total_seconds()) if job.expires_at else 0
        if left_s <= 0:
            raise NotFoundError("This download has expired", code="download_expired")
        url, expires = objects.presigned_get(
            str(result["key"]),
            expires_s=min(left_s, 7 * 24 * 3600),
            download_name=f"findme-{job.job_id[:8]}.zip",
        )
    return DownloadStatus(
        job_id=job.job_id,
        status=job.status,
        total=job.total,
        done=job.done,
        failed=job.failed,
        url=url,
        expires=expires,
        missing=list(result.get("missing", [])),
        error=job.error,
    )
