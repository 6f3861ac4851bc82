"""Quality review, advanced filter, duplicates and outliers on moto DynamoDB + Qdrant :memory:."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import World
from findme.errors import InvalidInputError, PermissionDeniedError
from findme.services import duplicates as dup
from findme.services import face_filters, quality_review
from findme.services import persons as person_svc


def _no_url(face: Any) -> str | None:
    return None


@pytest.fixture
def event(world: World) -> dict[str, Any]:
    """A group with faces of varied quality, a twin photo, and two persons."""
    owner, member = world.user(), world.user()
    group = world.group(owner, member=member)
    alice, bob = world.identity(), world.identity()
    good = world.photo(group, [world.near(alice)], quality=[(0.95, 0.7, 0.99)])[0]
    bad = world.photo(group, [world.near(alice)], quality=[(0.2, 0.3, 0.6)])[0]
    dark = world.photo(group, [world.near(bob)], quality=[(0.45, 0.35, 0.9)])[0]
    # the same photo uploaded twice: identical embeddings in two photos
    twin_vec = world.near(bob)
    twin1 = world.photo(group, [twin_vec])[0]
    twin2 = world.photo(group, [twin_vec])[0]
    # one photo holding two identical faces (a reflection): must never be paired
    mirror = world.identity()
    m1, m2 = world.photo(group, [mirror, mirror])
    a = world.person(group, [good, bad], "Alice")
    b = world.person(group, [dark, twin1, twin2], "Bob")
    return {
        "owner": owner,
        "member": member,
        "group": group,
        "good": good,
        "bad": bad,
        "dark": dark,
        "twin1": twin1,
        "twin2": twin2,
        "m1": m1,
        "m2": m2,
        "a": a,
        "b": b,
    }


def test_face_quality_recomputes_formula_grade_and_issues(
    world: World, event: dict[str, Any]
) -> None:
    scope = world.scope(event["owner"])
    report = quality_review.face_quality(
        world.metadata, scope, event["bad"].face_id, thumbnail_url=lambda f: "url:" + f.face_id
    )
    assert report.overall_quality == pytest.approx(0.4 * 0.2 + 0.4 * 0.3 + 0.2 * 0.6)
    assert report.quality_grade == "F"
    assert report.issues == (
        "Image is blurry",
        "Poor lighting/exposure",
        "Low detection confidence",
    )
    assert report.thumbnail_url == "url:" + event["bad"].face_id
    with pytest.raises(PermissionDeniedError):
        quality_review.face_quality(
            world.metadata,
            world.scope(event["member"]),
            event["bad"].face_id,
            thumbnail_url=_no_url,
        )


def test_batch_quality_strict_mode_and_skips(world: World, event: dict[str, Any]) -> None:
    scope = world.scope(event["owner"])
    ids = [event["good"].face_id, event["dark"].face_id, "no-such-face"]
    normal = quality_review.batch_quality(
        world.metadata, scope, ids, strict_mode=False, thumbnail_url=_no_url
    )
    strict = quality_review.batch_quality(
        world.metadata, scope, ids, strict_mode=True, thumbnail_url=_no_url
    )
    assert [r.face_id for r in normal.faces] == ids[:2]
    assert normal.skipped_face_ids == ["no-such-face"]
    # dark: brightness .35 and blur .45 -> issues in both modes; good: strict flags nothing either
    assert normal.faces[1].issues == ("Image is blurry", "Poor lighting/exposure")
    assert strict.faces[0].issues == ()
    # a brightness of .88 passes normally but is "Overexposed" in strict mode (.85)
    bright = world.photo(event["group"], [world.identity()], quality=[(0.9, 0.88, 0.95)])[0]
    pair = quality_review.batch_quality(
        world.metadata, scope, [bright.face_id], strict_mode=True, thumbnail_url=_no_url
    )
    assert pair.faces[0].issues == ("Overexposed",)
    with pytest.raises(InvalidInputError):
        quality_review.batch_quality(
            world.metadata, scope, [], strict_mode=False, thumbnail_url=_no_url
        )
    with pytest.raises(InvalidInputError):
        quality_review.batch_quality(
            world.metadata,
            scope,
            [str(i) for i in range(101)],
            strict_mode=False,
            thumbnail_url=_no_url,
        )
    # a batch of faces the caller may not review: every id skipped, not a 403 (issue 12)
    foreign = quality_review.batch_quality(
        world.metadata, world.scope(world.user()), ids, strict_mode=False, thumbnail_url=_no_url
    )
    assert (foreign.faces, foreign.skipped_face_ids) == ([], list(dict.fromkeys(ids)))


def test_low_quality_worst_first_with_limits(world: World, event: dict[str, Any]) -> None:
    scope = world.scope(event["owner"])
    gid = event["group"].group_id
    low = quality_review.low_quality_faces(world.metadata, scope, gid, thumbnail_url=_no_url)
    assert [r.face_id for r in low] == [event["bad"].face_id]
    more = quality_review.low_quality_faces(
        world.metadata, scope, gid, min_overall_quality=0.6, limit=1, thumbnail_url=_no_url
    )
    assert [r.face_id for r in more] == [event["bad"].face_id]
    two = quality_review.low_quality_faces(
        world.metadata, scope, gid, min_overall_quality=0.6, thumbnail_url=_no_url
    )
    assert [r.face_id for r in two] == [event["bad"].face_id, event["dark"].face_id]
    for bad_args in ({"min_overall_quality": 1.5}, {"limit": 0}, {"limit": 501}):
        with pytest.raises(InvalidInputError):
            quality_review.low_quality_faces(
                world.metadata, scope, gid, thumbnail_url=_no_url, **bad_args
            )


def test_duplicates_pair_photos_not_faces_of_one_photo_and_are_cached(
    world: World, event: dict[str, Any]
) -> None:
    scope = world.scope(event["owner"])
    cache = dup.TtlCache(600)
    gid = event["group"].group_id
    result = dup.find_duplicates(world.metadata, world.vectors, scope, group_id=gid, cache=cache)
    pairs = {frozenset((p.face_1.face_id, p.face_2.face_id)) for p in result.pairs}
    assert frozenset((event["twin1"].face_id, event["twin2"].face_id)) in pairs
    assert frozenset((event["m1"].face_id, event["m2"].face_id)) not in pairs
    assert all(p.face_1.image_id != p.face_2.image_id for p in result.pairs)
    assert not result.cached
    again = dup.find_duplicates(world.metadata, world.vectors, scope, group_id=gid, cache=cache)
    assert again.cached
    assert again.computed_at == result.computed_at
    for bad in ({"threshold": 0.5}, {"threshold": 0.995}, {"limit": 0}, {"limit": 201}):
        with pytest.raises(InvalidInputError):
            dup.find_duplicates(
                world.metadata, world.vectors, scope, group_id=gid, cache=cache, **bad
            )
    with pytest.raises(PermissionDeniedError):
        dup.find_duplicates(
            world.metadata, world.vectors, world.scope(event["member"]), group_id=gid
        )


def test_ttl_cache_expires_after_ten_minutes() -> None:
    now = [0.0]
    cache = dup.TtlCache(dup.DUPLICATES_CACHE_TTL_S, clock=lambda: now[0])
    cache.put("k", 1)
    now[0] = 599.0
    assert cache.get("k") == 1
    now[0] = 600.0
    assert cache.get("k") is None


def test_outliers_surface_a_face_moved_into_the_wrong_person(
    world: World, event: dict[str, Any]
) -> None:
    scope = world.scope(event["owner"])
    gid = event["group"].group_id
    # Given Alice's good face deliberately moved into Bob
    person_svc.move_face(
        world.metadata, world.vectors, scope, event["good"].face_id, person_id=event["b"].person_id
    )
    # When outliers are listed
    found = dup.find_outliers(world.metadata, world.vectors, scope, group_id=gid)
    # Then it is the first (lowest) outlier, of Bob; Alice, now with one face, is skipped
    assert found[0].face.face_id == event["good"].face_id
    assert found[0].person.person_id == event["b"].person_id
    assert [o.mean_similarity for o in found] == sorted(o.mean_similarity for o in found)
    one = dup.find_outliers(world.metadata, world.vectors, scope, person_id=event["b"].person_id)
    assert one[0].face.face_id == event["good"].face_id
    with pytest.raises(InvalidInputError):
        dup.find_outliers(world.metadata, world.vectors, scope, group_id=gid, threshold=0.9)


def test_advanced_filter(world: World, event: dict[str, Any]) -> None:
    scope = world.scope(event["owner"])
    gid = event["group"].group_id

    def run(**kwargs: Any) -> list[str]:
        criteria = face_filters.criteria_from(group_ids=[gid], **kwargs)
        return [f.face_id for f in face_filters.filter_faces(world.metadata, scope, criteria)]

    sharp = run(min_blur_score=0.9)
    assert event["good"].face_id in sharp
    assert event["bad"].face_id not in sharp
    assert event["bad"].face_id not in run(min_confidence=0.7)
    assert set(run(max_confidence=0.6)) == {event["bad"].face_id}
    assert event["m1"].face_id in run(unlabeled_only=True)
    assert event["good"].face_id not in run(unlabeled_only=True)
    assert set(run(person_ids=[event["a"].person_id])) <= {
        event["good"].face_id,
        event["bad"].face_id,
    }
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert run(created_after=tomorrow) == []
    assert len(run(created_before=tomorrow, limit=2)) == 2
    assert run(has_thumbnail=False) == []
    with pytest.raises(InvalidInputError) as bad_date:
        run(created_after="yesterday")
    assert bad_date.value.code == "invalid_date"
    for bad in ({"limit": 0}, {"limit": 1001}, {"min_confidence": 0.9, "max_confidence": 0.1}):
        with pytest.raises(InvalidInputError):
            run(**bad)
    with pytest.raises(PermissionDeniedError):
        face_filters.filter_faces(
            world.metadata,
            world.scope(event["member"]),
            face_filters.criteria_from(group_ids=[gid]),
        )
