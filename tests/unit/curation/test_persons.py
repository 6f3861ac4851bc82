"""Persons curation services on moto DynamoDB + Qdrant :memory:."""

from __future__ import annotations

import pytest
from fakes import World
from findme.domain.records import PersonLink, Role
from findme.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from findme.services import persons as svc


@pytest.fixture
def event(world: World) -> dict:
    """A group with owner, photographer, member; persons A (3 faces), B (2), C (1, hidden)."""
    owner, photographer, member = world.user(), world.user(), world.user()
    group = world.group(owner, photographer=photographer, member=member)
    ida, idb, idc = world.identity(), world.identity(), world.identity()
    fa = [world.photo(group, [world.near(ida)])[0] for _ in range(3)]
    fb = [world.photo(group, [world.near(idb)])[0] for _ in range(2)]
    fc = world.photo(group, [world.near(idc)])
    a = world.person(group, fa, "Alice")
    b = world.person(group, fb, "bob")
    c = world.person(group, fc)
    world.metadata.put_person(
        type(c)(**{**{s: getattr(c, s) for s in c.__slots__}, "hidden": True})
    )
    return {
        "owner": owner,
        "photographer": photographer,
        "member": member,
        "group": group,
        "a": a,
        "b": b,
        "c": c,
        "fa": fa,
        "fb": fb,
        "fc": fc,
    }


def test_list_sorts_and_hides(world: World, event: dict) -> None:
    gid = event["group"].group_id
    owner = world.scope(event["owner"])
    by_count = svc.list_persons(world.metadata, owner, gid)
    assert [p.person_id for p in by_count.items] == [event["a"].person_id, event["b"].person_id]
    by_name = svc.list_persons(world.metadata, owner, gid, sort="name", include_hidden=True)
    assert [p.name for p in by_name.items] == ["Alice", "bob", None]  # unnamed last
    # a member sees only their own persons (matched to their selfie), never hidden ones
    member = world.scope(event["member"])
    assert svc.list_persons(world.metadata, member, gid, include_hidden=True).items == []
    for person in (event["b"], event["c"]):
        world.metadata.put_person_link(
            PersonLink(gid, person.person_id, event["member"].user_id, 0.8, "centroid")
        )
    mine = svc.list_persons(world.metadata, member, gid, include_hidden=True).items
    assert [p.person_id for p in mine] == [event["b"].person_id]
    assert svc.person_details(world.metadata, member, event["b"].person_id).person.name == "bob"
    # another attendee's person: refused, saying so (issue 12: it was 404 "Person not found")
    with pytest.raises(PermissionDeniedError, match="not yours") as refused:
        svc.person_details(world.metadata, member, event["a"].person_id)
    assert refused.value.code == "access_denied"
    # paging
    first = svc.list_persons(world.metadata, owner, gid, include_hidden=True, limit=2)
    assert len(first.items) == 2
    assert first.cursor
    rest = svc.list_persons(
        world.metadata, owner, gid, include_hidden=True, limit=2, cursor=first.cursor
    )
    assert len(rest.items) == 1
    assert rest.cursor is None
    with pytest.raises(InvalidInputError):
        svc.list_persons(world.metadata, owner, gid, cursor="garbage!")


def test_outsider_cannot_read_and_member_cannot_curate(world: World, event: dict) -> None:
    outsider = world.scope(world.user())
    with pytest.raises(PermissionDeniedError):
        svc.list_persons(world.metadata, outsider, event["group"].group_id)
    member = world.scope(event["member"])
    with pytest.raises(PermissionDeniedError):
        svc.update_person(world.metadata, member, event["a"].person_id, name="x")
    with pytest.raises(PermissionDeniedError):  # hidden persons are not shown to members
        svc.person_details(world.metadata, member, event["c"].person_id)


def test_details_rename_hide_and_cover(world: World, event: dict) -> None:
    scope = world.scope(event["owner"])
    pid = event["a"].person_id
    details = svc.person_details(world.metadata, scope, pid)
    assert len(details.faces) == 3
    assert len(details.image_ids) == 3
    updated = svc.update_person(
        world.metadata,
        scope,
        pid,
        name="  Alice B ",
        hidden=True,
        cover_face_id=event["fa"][2].face_id,
    )
    assert (updated.name, updated.hidden, updated.cover_face_id) == (
        "Alice B",
        True,
        event["fa"][2].face_id,
    )
    with pytest.raises(InvalidInputError):
        svc.update_person(world.metadata, scope, pid, cover_face_id=event["fb"][0].face_id)
    assert svc.update_person(world.metadata, scope, pid, name=None).name is None
    images = svc.person_images(world.metadata, scope, pid, limit=2)
    assert len(images.items) == 2
    assert images.cursor


def test_merge_moves_faces_as_manual_and_removes_the_source(world: World, event: dict) -> None:
    scope = world.scope(event["owner"])
    a, b = event["a"], event["b"]
    result = svc.merge_persons(world.metadata, world.vectors, scope, a.person_id, [b.person_id])
    assert result.person.face_count == 5
    assert result.person.image_count == 5
    with pytest.raises(NotFoundError):
        world.metadata.get_person(b.person_id)
    moved = world.metadata.get_faces([f.face_id for f in event["fb"]])
    assert all(f.person_id == a.person_id and f.is_manual_placement for f in moved)
    assert {v.person_id for v in world.vectors.get([f.face_id for f in event["fb"]])} == {
        a.person_id
    }
    with pytest.raises(InvalidInputError):
        svc.merge_persons(world.metadata, world.vectors, scope, a.person_id, [a.person_id])


def test_merge_across_groups_conflicts(world: World, event: dict) -> None:
    owner = event["owner"]
    other = world.group(owner)
    stranger = world.person(other, world.photo(other, [world.identity()]))
    with pytest.raises(ConflictError):
        svc.merge_persons(
            world.metadata,
            world.vectors,
            world.scope(owner),
            event["a"].person_id,
            [stranger.person_id],
        )


def test_move_face_to_existing_and_new_person_keeps_counts_right(world: World, event: dict) -> None:
    scope = world.scope(event["owner"])
    only_c = event["fc"][0]
    # moving C's only face into A empties C, which is removed
    moved = svc.move_face(
        world.metadata, world.vectors, scope, only_c.face_id, person_id=event["a"].person_id
    )
    assert moved.face.is_manual_placement
    assert moved.face.person_id == event["a"].person_id
    assert moved.removed_person_ids == [event["c"].person_id]
    assert world.metadata.get_person(event["a"].person_id).face_count == 4
    # moving one of A's faces to a new person
    new = svc.move_face(
        world.metadata, world.vectors, scope, event["fa"][0].face_id, new_person_name="Ann"
    )
    assert new.created_person
    assert new.person.name == "Ann"
    assert new.person.face_count == 1
    assert world.metadata.get_person(event["a"].person_id).face_count == 3
    assert world.vectors.get([event["fa"][0].face_id])[0].person_id == new.person.person_id


def test_two_faces_of_one_photo_never_join_one_person(world: World, event: dict) -> None:
    group = event["group"]
    f1, f2 = world.photo(group, [world.identity(), world.identity()])
    p = world.person(group, [f1])
    with pytest.raises(ConflictError):
        svc.move_face(
            world.metadata,
            world.vectors,
            world.scope(event["owner"]),
            f2.face_id,
            person_id=p.person_id,
        )
    # nor through a merge: the clash is reported and nothing moves
    q = world.person(group, [f2])
    with pytest.raises(ConflictError) as clash:
        svc.merge_persons(
            world.metadata, world.vectors, world.scope(event["owner"]), p.person_id, [q.person_id]
        )
    assert clash.value.details["face_ids"] == sorted([f1.face_id, f2.face_id])
    assert world.metadata.get_face(f2.face_id).person_id == q.person_id


def test_admin_curates_any_group(world: World, event: dict) -> None:
    admin = world.scope(world.user(Role.ADMIN))
    assert svc.update_person(world.metadata, admin, event["b"].person_id, name="Bob").name == "Bob"
