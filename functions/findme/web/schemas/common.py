"""Shared API schemas: the error body, messages, bounding boxes, pages, examples."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

_UUID = "0b7f6f1e-9a54-4c1b-8d0e-3f1d2a9c7e55"

T = TypeVar("T")


def example(**values: Any) -> ConfigDict:
    """``model_config`` with one OpenAPI example."""
    return ConfigDict(json_schema_extra={"examples": [values]})


class ValidationIssue(BaseModel):
    """One problem found by request validation."""

    loc: list[str] = Field(description='Where: e.g. `["query", "limit"]`.', examples=[["body"]])
    msg: str
    type: str = Field(description="pydantic's error type, e.g. `greater_than_equal`.")


class ErrorOut(BaseModel):
    """Every error answer, whatever its status (see :mod:`findme.web.errors`).

    ``code`` is stable (clients switch on it), ``detail`` is for people. Some codes add keys
    (``reason``, ``max_bytes``, ``accepted``, ``image_ids``, ...); ``validation_error`` adds
    ``errors``.
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "detail": "query.limit: Input should be greater than or equal to 1",
                    "code": "validation_error",
                    "errors": [
                        {
                            "loc": ["query", "limit"],
                            "msg": "Input should be greater than or equal to 1",
                            "type": "greater_than_equal",
                        }
                    ],
                }
            ]
        },
    )
    detail: str = Field(description="What went wrong, for people.")
    code: str = Field(description="What went wrong, for programs (stable).")
    errors: list[ValidationIssue] | None = Field(
        default=None, description="Only with `validation_error`: every problem found."
    )


class MessageOut(BaseModel):
    model_config = example(message="Group updated successfully.")
    message: str


class FacialArea(BaseModel):
    """A face's bounding box in original-image pixels (the name ``/get-faces`` uses)."""

    x: int
    y: int
    w: int
    h: int


def facial_area(bbox: Mapping[str, int]) -> FacialArea:
    """A stored bounding box ``{"x", "y", "w", "h"}`` as the API's ``facial_area``."""
    return FacialArea(**{k: int(bbox.get(k, 0)) for k in ("x", "y", "w", "h")})


class PageOut(BaseModel, Generic[T]):
    """One page: ``items`` and the opaque ``next_cursor`` (``null`` on the last page).

    Subclass it per item type (``class MemberPage(PageOut[MemberOut])``) so the OpenAPI
    document names the page (``MemberPage``, not ``PageOut_MemberOut_``).
    """

    items: list[T]
    next_cursor: str | None = None
