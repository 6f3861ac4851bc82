"""Sections, users administration, statistics and the consistency check (moto + Qdrant :memory:)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakes import World
from findme.domain.records import Role
from findme.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from findme.services import sections, stats, users_admin


def test_sections_lifecycle_and_filtered_image_list(world: World) -> None:
    owner, member = world.user(), world.user()
    group = world.group(owner, member=member)
    scope, gid = world.scope(owner), group.group_id
    alice = world.identity()
    f1 = world.photo(group, [world.near(alice)])[0]
    f2 = world.photo(group, [world.near(alice)])[0]
    f3 = world.photo(group, [world.identity()])[0]
    person = world.person(group, [f1, f2])
    ceremony = sections.create_section(world.metadata, scope, gid, " Ceremony ")
    assert ceremony.name == "Ceremony"
    with pytest.raises(ConflictError):
        sections.create_section(world.metadata, scope, gid, "ceremony")
    with pytest.raises(InvalidInputError):
        sections.create_section(world.metadata, scope, gid, "   ")
    with pytest.raises(PermissionDeniedError):
        sections.create_section(world.metadata, world.scope(member), gid, "Party")
    party = sections.create_section(world.metadata, scope, gid, "Party")
    assert [
        s.section.name for s in sections.list_sections(world.metadata, world.scope(member), gid)
    ] == ["Ceremony", "Party"]
    sections.set_section_membership(
        world.metadata, scope, gid, ceremony.section_id, [f1.image_id, f3.image_id]
    )
    in_ceremony = sections.list_images(
        world.metadata, scope, gid, sections.ImageQuery(section_id=ceremony.section_id)
    )
    assert {i.image_id for i in in_ceremony.items} == {f1.image_id, f3.image_id}
    of_person = sections.list_images(
        world.metadata,
        scope,
        gid,
        sections.ImageQuery(section_id=ceremony.section_id, person_id=person.person_id),
    )
    assert [i.image_id for i in of_person.items] == [f1.image_id]
    future = sections.list_images(
        world.metadata,
        scope,
        gid,
        sections.ImageQuery(taken_after=datetime.now(UTC) + timedelta(1)),
    )
    assert future.items == []
    paged = sections.list_images(world.metadata, scope, gid, sections.ImageQuery(), limit=2)
    assert len(paged.items) == 2
    assert paged.cursor is not None
    renamed = sections.update_section(
        world.metadata, scope, gid, party.section_id, name="After party"
    )
    assert renamed.name == "After party"
    assert sections.delete_section(world.metadata, scope, gid, ceremony.section_id) == 2
    assert world.metadata.get_image(f1.image_id).section_id is None
    with pytest.raises(NotFoundError):
        sections.update_section(world.metadata, scope, gid, ceremony.section_id, name="x")
    other = world.group(owner)
    stray = world.photo(other, [world.identity()])[0]
    with pytest.raises(InvalidInputError):
        sections.set_section_membership(
            world.metadata, scope, gid, party.section_id, [stray.image_id]
        )


def test_users_admin(world: World) -> None:
    admin = world.user(Role.ADMIN)
    user = users_admin.create_user(
        world.metadata, phone_number="+1 (415) 555-0199", name="Pat", role=Role.PHOTOGRAPHER
    )
    assert user.phone_number == "+14155550199"
    with pytest.raises(ConflictError):
        users_admin.create_user(
            world.metadata, phone_number="+14155550199", name="Dup", role=Role.MEMBER
        )
    with pytest.raises(InvalidInputError):
        users_admin.create_user(world.metadata, phone_number="555", name="Bad", role=Role.MEMBER)
    assert (
        users_admin.set_role(world.metadata, admin.user_id, user.user_id, Role.ADMIN).role
        is Role.ADMIN
    )
    assert world.metadata.get_user(user.user_id).role is Role.ADMIN
    with pytest.raises(PermissionDeniedError):
        users_admin.set_role(world.metadata, admin.user_id, admin.user_id, Role.MEMBER)
    first = users_admin.list_users(world.metadata, limit=1, cursor=None)
    assert len(first.items) == 1
    group = world.group(user)
    deleted = users_admin.delete_user(
        world.metadata, world.vectors, world.objects, admin.user_id, user.user_id
    )
    assert deleted.memberships == 1
    with pytest.raises(NotFoundError):
        world.metadata.get_user(user.user_id)
    assert world.metadata.get_membership(group.group_id, user.user_id) is None
    with pytest.raises(PermissionDeniedError):
        users_admin.delete_user(
            world.metadata, world.vectors, world.objects, admin.user_id, admin.user_id
        )
    assert users_admin.selfie_quality_settings(world.settings) == {
        "min_face_size": world.settings.selfie_min_face_size_px,
        "min_confidence": world.settings.selfie_min_confidence,
        "blur_threshold": world.settings.selfie_blur_threshold,
    }


def test_group_and_global_stats(world: World) -> None:
    owner = world.user()
    group = world.group(owner)
    alice = world.identity()
    faces = [world.photo(group, [world.near(alice)])[0] for _ in range(2)]
    world.photo(group, [world.identity(), world.identity()])
    world.photo(group, [])
    world.person(group, faces)
    s = stats.group_stats(world.metadata, group.group_id)
    assert (s.persons, s.images, s.faces, s.images_with_faces, s.images_without_faces) == (
        1,
        4,
        4,
        3,
        1,
    )
    assert (
        s.assigned_faces,
        s.face_coverage_pct,
        s.avg_faces_per_image,
        s.avg_faces_per_person,
    ) == (
        2,
        50.0,
        1.0,
        2.0,
    )
    g = stats.global_stats(world.metadata, world.scope(owner))
    assert g.groups == 1
    assert g.totals == s
    nobody = stats.global_stats(world.metadata, world.scope(world.user()))
    assert (nobody.groups, nobody.per_group, nobody.totals.faces) == (0, {}, 0)
    admin = stats.global_stats(world.metadata, world.scope(world.user(Role.ADMIN)))
    assert group.group_id in admin.per_group
    assert admin.totals.faces >= 4


def test_consistency_check_finds_and_repairs_drift(world: World) -> None:
    owner = world.user()
    group = world.group(owner)
    alice = world.identity()
    faces = [world.photo(group, [world.near(alice)])[0] for _ in range(3)]
    person = world.person(group, faces)
    gid = group.group_id
    assert stats.check_consistency(world.metadata, world.vectors, gid).consistent
    # Given drift: an orphan vector, a wrong payload person, a missing vector, a stale count
    world.metadata.delete_faces([faces[0].face_id])  # item gone, vector left: orphan
    world.vectors.set_person([faces[1].face_id], "someone-else")
    world.vectors.delete_faces([faces[2].face_id])  # vector gone: missing
    report = stats.check_consistency(world.metadata, world.vectors, gid)
    assert not report.consistent
    assert report.drift.orphan_vectors == [faces[0].face_id]
    assert report.drift.missing_vectors == [faces[2].face_id]
    assert report.drift.person_mismatches == {faces[1].face_id: (person.person_id, "someone-else")}
    assert report.miscounted_person_ids == [person.person_id]
    assert report.reprocess_image_ids == [faces[2].image_id]
    # When repaired
    fixed = stats.check_consistency(world.metadata, world.vectors, gid, repair=True)
    assert fixed.fixed["orphan_vectors_deleted"] == 1
    # Then only the missing vector (needs a reprocess) remains
    after = stats.check_consistency(world.metadata, world.vectors, gid)
    assert after.drift.orphan_vectors == []
    assert after.drift.person_mismatches == {}
    assert after.miscounted_person_ids == []
    assert after.drift.missing_vectors == [faces[2].face_id]
    assert world.metadata.get_person(person.person_id).face_count == 2
