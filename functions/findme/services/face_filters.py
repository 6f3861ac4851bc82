"""Advanced face filter: groups, persons, confidence range, quality minima, labels, dates.

Follows the peer face-gallery API's ``POST /faces/filter`` criteria (docs/compatibility.md); results
are the matching faces of the groups the caller curates, newest first, at most ``limit`` (1-1000).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from findme.domain.records import Face
from findme.errors import InvalidInputError
from findme.ports import FaceRepository, PersonRepository
from findme.services.curation_access import check_range, person_for
from findme.services.policy import Need, Policy


class FilterFacesStore(FaceRepository, PersonRepository, Protocol):
    """The metadata repositories :func:`filter_faces` uses."""


MAX_FILTER_RESULTS = 1000


def parse_iso_datetime(value: str | None, field_name: str) -> datetime | None:
    """An ISO 8601 date or date-time (``Z`` allowed); naive values are taken as UTC.

    Raises:
        InvalidInputError: not ISO 8601 (HTTP 400, ``code="invalid_date"``).
    """
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise InvalidInputError(
            f"{field_name} must be an ISO 8601 date-time, e.g. 2026-05-01T12:00:00Z",
            code="invalid_date",
            field=field_name,
        ) from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(slots=True)
class FaceFilter:
    """Criteria; ``None`` means "any". Scores are in ``[0, 1]``; times are UTC."""

    group_ids: list[str] = field(default_factory=list)
    person_ids: list[str] = field(default_factory=list)
    min_confidence: float | None = None
    max_confidence: float | None = None
    min_blur_score: float | None = None
    min_brightness_score: float | None = None
    unlabeled_only: bool = False
    has_thumbnail: bool | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    limit: int = 100

    def validate(self) -> None:
        """Raises InvalidInputError for out-of-range values or contradictions."""
        check_range("limit", self.limit, 1, MAX_FILTER_RESULTS)
        for name in ("min_confidence", "max_confidence", "min_blur_score", "min_brightness_score"):
            value = getattr(self, name)
            if value is not None:
                check_range(name, value, 0.0, 1.0)
        if (
            self.min_confidence is not None
            and self.max_confidence is not None
            and self.min_confidence > self.max_confidence
        ):
            raise InvalidInputError(
                "min_confidence is above max_confidence", field="min_confidence"
            )
        if self.created_after and self.created_before and self.created_after > self.created_before:
            raise InvalidInputError("created_after is after created_before", field="created_after")
        if self.unlabeled_only and self.person_ids:
            raise InvalidInputError(
                "unlabeled_only and person_ids exclude each other", field="unlabeled_only"
            )

    def matches(self, face: Face) -> bool:
        """Whether one face meets every criterion."""
        if self.person_ids and face.person_id not in self.person_ids:
            return False
        if self.unlabeled_only and face.person_id is not None:
            return False
        if self.min_confidence is not None and face.confidence < self.min_confidence:
            return False
        if self.max_confidence is not None and face.confidence > self.max_confidence:
            return False
        if self.min_blur_score is not None and face.blur_score < self.min_blur_score:
            return False
        if (
            self.min_brightness_score is not None
            and face.brightness_score < self.min_brightness_score
        ):
            return False
        if self.has_thumbnail is not None and bool(face.thumbnail_key) != self.has_thumbnail:
            return False
        if self.created_after is not None and face.created_at < self.created_after:
            return False
        return not (self.created_before is not None and face.created_at > self.created_before)


def filter_faces(metadata: FilterFacesStore, policy: Policy, criteria: FaceFilter) -> list[Face]:
    """Faces matching ``criteria`` in the groups where the caller reviews faces (UPLOAD),
    newest first.

    Persons named in ``person_ids`` narrow the groups to theirs (one DynamoDB query per
    person instead of a scan of every group).

    Raises:
        InvalidInputError: bad criteria. PermissionDeniedError: a named group or person
            the caller may not review. NotFoundError: an unknown person.
    """
    criteria.validate()
    candidates: list[Face] = []
    if criteria.person_ids:
        allowed_groups = set(criteria.group_ids)
        for person_id in dict.fromkeys(criteria.person_ids):
            person = person_for(metadata, policy, person_id, Need.UPLOAD)
            if allowed_groups and person.group_id not in allowed_groups:
                continue
            candidates.extend(metadata.list_faces_of_person(person_id))
    else:
        for group_id in policy.groups(Need.UPLOAD, criteria.group_ids, param="group_ids"):
            candidates.extend(metadata.list_faces_of_group(group_id))
    matched = [f for f in candidates if criteria.matches(f)]
    matched.sort(key=lambda f: (f.created_at, f.face_id), reverse=True)
    return matched[: criteria.limit]


def criteria_from(
    *,
    group_ids: Sequence[str] = (),
    person_ids: Sequence[str] = (),
    min_confidence: float | None = None,
    max_confidence: float | None = None,
    min_blur_score: float | None = None,
    min_brightness_score: float | None = None,
    unlabeled_only: bool = False,
    has_thumbnail: bool | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    limit: int = 100,
) -> FaceFilter:
    """Build criteria from request values (dates as ISO 8601 strings; bad dates -> 400)."""
    return FaceFilter(
        group_ids=list(group_ids),
        person_ids=list(person_ids),
        min_confidence=min_confidence,
        max_confidence=max_confidence,
        min_blur_score=min_blur_score,
        min_brightness_score=min_brightness_score,
        unlabeled_only=unlabeled_only,
        has_thumbnail=has_thumbnail,
        created_after=parse_iso_datetime(created_after, "created_after"),
        created_before=parse_iso_datetime(created_before, "created_before"),
        limit=limit,
    )
