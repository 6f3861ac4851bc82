"""Curated faces: details, moves, batch delete, reprocessing."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from findme.services import face_deletion
from findme.web.schemas.common import example
from findme.web.schemas.faces import FaceOut
from findme.web.schemas.jobs import JobAccepted
from findme.web.schemas.persons import PersonOut

_FACE = "8d7c2e1a-4b3f-5a69-9c0d-1e2f3a4b5c6d"

_GROUP = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"

_PERSON = "2b4d6f80-1a3c-4e5f-8a9b-0c1d2e3f4a5b"


class MoveRequest(BaseModel):
    """Give ``person_id`` to move into an existing person, or neither to create a new one."""

    person_id: str | None = Field(default=None, description="Target person (same group).")
    new_person_name: str | None = Field(
        default=None, max_length=100, description="Name of the new person (when no person_id)."
    )

    @model_validator(mode="after")
    def _one_target(self) -> MoveRequest:
        if self.person_id is not None and self.new_person_name is not None:
            raise ValueError("give person_id or new_person_name, not both")
        return self


class MoveOut(BaseModel):
    face: FaceOut
    person: PersonOut
    previous_person_id: str | None
    created_person: bool
    removed_person_ids: list[str]


class BatchDeleteRequest(BaseModel):
    model_config = example(
        face_ids=["8d7c2e1a-4b3f-5a69-9c0d-1e2f3a4b5c6d"], delete_thumbnails=True
    )

    face_ids: list[str] = Field(min_length=1, max_length=face_deletion.MAX_BATCH_DELETE)
    delete_thumbnails: bool = True


class BatchDeleteOut(BaseModel):
    model_config = example(
        message="Faces deleted successfully",
        deleted_count=2,
        deleted_thumbnails=2,
        face_ids=["8d7c2e1a-4b3f-5a69-9c0d-1e2f3a4b5c6d", "1c2d3e4f-5a6b-5c7d-8e9f-0a1b2c3d4e5f"],
        skipped_face_ids=["0f9e8d7c-6b5a-5f4e-3d2c-1b0a9f8e7d6c"],
        removed_person_ids=[],
    )

    message: str
    deleted_count: int
    deleted_thumbnails: int
    face_ids: list[str]
    skipped_face_ids: list[str]
    removed_person_ids: list[str]


class ReprocessAccepted(JobAccepted):
    image_ids: list[str]
    face_ids: list[str]


class GroupReprocessRequest(BaseModel):
    force_all: bool = Field(default=False, description="Reprocess every photo of the group.")
    min_quality: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Otherwise: photos with a face whose overall_quality is below this.",
    )
