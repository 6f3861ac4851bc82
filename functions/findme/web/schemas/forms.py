"""The request bodies sent as ``multipart/form-data`` (a photo and some fields), as named
schemas.

A route reads one with ``form: Annotated[XForm, MULTIPART]``: FastAPI validates the form's
fields (by the same names, with the same rules and the same 422 ``validation_error`` at
``["body", <field>]``) into the model, and the OpenAPI document names the body ``XForm``
instead of ``Body_<operation id>``. A photo is an optional ``UploadFile`` field (its absence
is the route's own 400, see ``docs/errors.md``); ``selfie_key`` replaces it for photos over
the request body limit.
"""

from __future__ import annotations

from fastapi import Form, UploadFile
from pydantic import BaseModel, Field

#: The parameter marker of a form model read from a multipart body (files and fields).
MULTIPART = Form(media_type="multipart/form-data")


def _selfie_key() -> str | None:
    """The ``selfie_key`` field (a new ``FieldInfo`` per model)."""
    value: str | None = Field(
        default=None,
        max_length=300,
        description="Instead of the file: the selfie_key of a presigned upload "
        "(POST /register/selfie-uploads before registration, /users/me/selfie-uploads after); "
        "use it for photos over the request body limit (about 4 MB on AWS).",
    )
    return value


class RegisterForm(BaseModel):
    """``POST /register``: the new user's name, phone and code, and their selfie."""

    name: str = Field(min_length=1, max_length=100, examples=["Ada"])
    phone_number: str = Field(examples=["+14155550123"])
    otp: str = Field(min_length=4, max_length=10, examples=["123456"])
    selfie: UploadFile | None = Field(default=None, description="A photo of you alone.")
    selfie_key: str | None = _selfie_key()


class AddSelfieForm(BaseModel):
    """``POST /users/me/selfies``: another reference selfie of the caller."""

    selfie: UploadFile | None = Field(default=None, description="A photo of you alone.")
    selfie_key: str | None = _selfie_key()


class FaceImageForm(BaseModel):
    """``POST /get-faces``, ``/get-features``, ``/get-embedding``: the photo to analyse."""

    image: UploadFile | None = Field(
        default=None, description="A photo (JPEG, PNG, WebP, GIF, HEIC)."
    )
    selfie_key: str | None = _selfie_key()


class SearchFaceForm(FaceImageForm):
    """``POST /search-face``: the photo of the person to find, and how to search."""

    confidence: float | None = Field(
        default=None,
        ge=-1.0,
        le=1.0,
        description="Minimum cosine similarity (default: the match "
        "threshold, 0.40; SFace same-person pairs score ~0.4-0.8, near-duplicates > 0.85).",
    )
    group_id: str | None = Field(default=None, description="Search only this group.")
    limit: int = Field(default=100, ge=1, le=500)


#: The bodies of routes whose every field is optional: an empty form is these (the route
#: then answers its own 400 for the missing photo), so the body is not marked required.
NO_SELFIE = AddSelfieForm()
NO_IMAGE = FaceImageForm()
NO_SEARCH = SearchFaceForm()
