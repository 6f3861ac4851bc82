"""Sign-in, registration, tokens, selfies and the caller's profile."""

# Example tokens below are documentation, not secrets.
# ruff: noqa: S105, S106
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from findme.web.schemas.common import example

_UUID = "0b7f6f1e-9a54-4c1b-8d0e-3f1d2a9c7e55"


class OtpRequest(BaseModel):
    model_config = example(phone_number="+14155550123")
    phone_number: str = Field(min_length=8, max_length=20)


class OtpOut(BaseModel):
    model_config = example(message="Code sent.", expires_in=300, sends_remaining=4)
    message: str
    expires_in: int = Field(description="Seconds until the code expires.")
    sends_remaining: int = Field(description="Codes that may still be sent this hour.")


class TokenRequest(BaseModel):
    model_config = example(phone_number="+14155550123", otp="123456")
    phone_number: str = Field(min_length=8, max_length=20)
    otp: str = Field(min_length=4, max_length=10)


class TokenOut(BaseModel):
    model_config = example(
        access_token="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
        token_type="bearer",
        expires_in=604800,
        user_id=_UUID,
    )
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    user_id: str


class RegisterOut(BaseModel):
    """201 body of ``/register``: the seed's fields (docs/compatibility.md) plus the token."""

    model_config = example(
        user_id=_UUID,
        name="Ada",
        message="User registered successfully.",
        access_token="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
        token_type="bearer",
        expires_in=604800,
        face_id=_UUID,
    )
    user_id: str
    name: str
    message: str
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    face_id: str


class SelfieOut(BaseModel):
    model_config = example(face_id=_UUID, reference_faces=2, message="Selfie added.")
    face_id: str
    reference_faces: int
    message: str


class SelfieUploadRequest(BaseModel):
    model_config = example(content_type="image/jpeg", size_bytes=5_200_000)
    content_type: str = Field(default="image/jpeg", max_length=100)
    size_bytes: int | None = Field(default=None, ge=1, description="Declared size, checked early.")


class RegisterSelfieUploadRequest(SelfieUploadRequest):
    model_config = example(
        phone_number="+14155550123", otp="123456", content_type="image/jpeg", size_bytes=5_200_000
    )
    phone_number: str = Field(min_length=8, max_length=20)
    otp: str = Field(min_length=4, max_length=10, description="The code from POST /auth/otp.")


class SelfieUploadOut(BaseModel):
    """POST ``fields`` plus the file (form field ``file``, last) to ``url`` before ``expires``,
    then send ``selfie_key`` instead of the file (once: a used upload is deleted)."""

    model_config = example(
        selfie_key=f"selfies/uploads/u-{_UUID}/{_UUID}.jpg",
        url="https://findme-prod-media-123456789012-eu-west-1.s3.amazonaws.com/",
        fields={"key": f"selfies/uploads/u-{_UUID}/{_UUID}.jpg", "Content-Type": "image/jpeg"},
        expires="2026-01-01T12:10:00Z",
        max_bytes=26_214_400,
    )
    selfie_key: str
    url: str
    fields: dict[str, str]
    expires: datetime
    max_bytes: int


class SelfieView(BaseModel):
    face_id: str
    created_at: datetime
    thumbnail_url: str = Field(description="Presigned GET URL of the selfie's face crop.")
    expires: datetime


class SelfieList(BaseModel):
    model_config = example(
        user_id=_UUID,
        selfies=[
            {
                "face_id": _UUID,
                "created_at": "2026-11-22T10:00:00Z",
                "thumbnail_url": "https://findme-media.s3.amazonaws.com/selfies/...-face.jpg?...",
                "expires": "2026-11-22T11:00:00Z",
            }
        ],
    )
    user_id: str
    selfies: list[SelfieView]


class SelfieDeleted(BaseModel):
    model_config = example(face_id=_UUID, reference_faces=1, message="Selfie removed.")
    face_id: str
    reference_faces: int = Field(description="Selfies left.")
    message: str


class UserOut(BaseModel):
    model_config = example(
        user_id=_UUID, name="Ada", phone_number="+14155550123", role="member", reference_faces=1
    )
    user_id: str
    name: str
    phone_number: str
    role: str
    reference_faces: int
