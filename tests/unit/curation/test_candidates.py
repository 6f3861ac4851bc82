"""Person-level "my photos" and "Is this you?" over the real app, moto and Qdrant :memory:.

Embeddings are built at an exact cosine similarity to the user's selfie, so each case sits
on a known side of the bars (a small group: person bar = the 0.40 floor, candidate bar =
the 0.30 floor).
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from fakes import DIM, RouteClient, World, unit
from findme.domain.records import (
    Face,
    Group,
    GroupRole,
    Membership,
    PersonLink,
    ReferenceFace,
    User,
)
from findme.ports import FaceVector
from findme.services.users import REFERENCE_GROUP
from numpy.typing import NDArray


def at(rng: np.random.Generator, ref: NDArray[np.float32], cos: float) -> NDArray[np.float32]:
    """A unit vector at cosine similarity ``cos`` to the unit vector ``ref``."""
    o = rng.normal(size=DIM)
    o -= o.dot(ref) * ref
    o /= np.linalg.norm(o)
    return unit(cos * ref + np.sqrt(max(0.0, 1 - cos * cos)) * o)


def selfie(world: World, user: User, vector: NDArray[np.float32]) -> None:
    face_id = str(uuid.uuid4())
    world.vectors.upsert(
        [
            FaceVector(
                face_id=face_id,
                group_id=REFERENCE_GROUP,
                image_id=face_id,
                vector=vector,
                kind="reference",
                user_id=user.user_id,
            )
        ]
    )
    world.metadata.put_reference_face(
        ReferenceFace(user_id=user.user_id, face_id=face_id, s3_key=f"selfies/{face_id}.jpg")
    )


def person_at(
    world: World, group: Group, ref: NDArray[np.float32], sims: list[float]
) -> list[Face]:
    """A person with one photo per similarity (each photo one face)."""
    faces = [world.photo(group, [at(world.rng, ref, s)])[0] for s in sims]
    world.person(group, faces)
    return faces


@pytest.fixture
def client(world: World) -> RouteClient:
    return RouteClient(world)


def my_photos(client: RouteClient, user: User, group: Group) -> set[str]:
    got = client.http.get(f"/get?group_id={group.group_id}", headers=client.auth(user))
    assert got.status_code == 200, got.text
    return {p["image_id"] for p in got.json()["personal_images"]}


def test_one_look_alike_face_does_not_hand_over_a_strangers_person(
    world: World, client: RouteClient
) -> None:
    """Given a stranger's person of five photos, one of which looks like the user (cosine
    0.45, a hit for a single-face rule at 0.40), when the user asks for their photos, then
    none of the stranger's photos is given; the user's own person (0.7) is."""
    owner, me = world.user(), world.user()
    group = world.group(owner, member=me)
    ref = world.identity()
    selfie(world, me, ref)
    mine = person_at(world, group, ref, [0.72, 0.66, 0.7])
    stranger = person_at(world, group, ref, [0.45, 0.02, -0.05, 0.04, 0.01])
    got = my_photos(client, me, group)
    assert got == {f.image_id for f in mine}
    assert not got & {f.image_id for f in stranger}


def test_candidate_between_the_bars_is_asked_not_given(world: World, client: RouteClient) -> None:
    """Given a person whose evidence (0.35) is between the candidate bar (0.30) and the person
    bar (0.40), then it is not in /get but offered by /users/me/candidates with a thumbnail;
    when the user says it is them, its photos are in /get from then on."""
    owner, me = world.user(), world.user()
    group = world.group(owner, member=me)
    ref = world.identity()
    selfie(world, me, ref)
    maybe = person_at(world, group, ref, [0.36, 0.35, 0.34])
    assert not my_photos(client, me, group) & {f.image_id for f in maybe}

    listed = client.http.get(
        f"/users/me/candidates?group_id={group.group_id}", headers=client.auth(me)
    )
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [c["person_id"] for c in items] == [maybe[0].person_id]
    assert items[0]["score"] == pytest.approx(0.35, abs=0.01)
    assert items[0]["thumbnail_url"]

    answer = client.http.post(
        f"/users/me/candidates/{maybe[0].person_id}", json={"is_me": True}, headers=client.auth(me)
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["assignment"]["strategy"] == "confirmed"
    assert my_photos(client, me, group) >= {f.image_id for f in maybe}


def test_rejected_person_is_never_offered_again_even_after_a_recluster(
    world: World, client: RouteClient
) -> None:
    """Given a candidate the user rejects, then it is no longer offered; when a re-cluster
    moves its faces to a new person id, the new person is not offered either (rejections are
    kept by face ids)."""
    owner, me = world.user(), world.user()
    group = world.group(owner, member=me)
    ref = world.identity()
    selfie(world, me, ref)
    maybe = person_at(world, group, ref, [0.37, 0.36, 0.35])
    no = client.http.post(
        f"/users/me/candidates/{maybe[0].person_id}", json={"is_me": False}, headers=client.auth(me)
    )
    assert no.status_code == 200, no.text
    assert no.json()["faces_rejected"] == 3
    url = f"/users/me/candidates?group_id={group.group_id}"
    assert client.http.get(url, headers=client.auth(me)).json()["items"] == []

    world.person(group, maybe)  # a re-cluster gives the same faces a new person id
    assert client.http.get(url, headers=client.auth(me)).json()["items"] == []
    assert not my_photos(client, me, group) & {f.image_id for f in maybe}


def test_a_person_not_offered_cannot_be_claimed(world: World, client: RouteClient) -> None:
    """Given a stranger's person (evidence 0.05) and a person of another group, when the
    user says either is them, then 403 not_a_candidate and 403 access_denied (not a member
    there): nobody claims another's photos."""
    owner, me = world.user(), world.user()
    group = world.group(owner, member=me)
    other_group = world.group(owner)
    ref = world.identity()
    selfie(world, me, ref)
    stranger = person_at(world, group, ref, [0.05, 0.02])
    elsewhere = person_at(world, other_group, ref, [0.8, 0.8])
    url = "/users/me/candidates/{}"
    claim = client.http.post(
        url.format(stranger[0].person_id), json={"is_me": True}, headers=client.auth(me)
    )
    assert claim.status_code == 403
    assert claim.json()["code"] == "not_a_candidate"
    foreign = client.http.post(
        url.format(elsewhere[0].person_id), json={"is_me": True}, headers=client.auth(me)
    )
    assert (foreign.status_code, foreign.json()["code"]) == (403, "access_denied")
    missing = client.http.post(url.format("nope"), json={"is_me": True}, headers=client.auth(me))
    assert missing.status_code == 404
    bad = client.http.post(
        url.format(stranger[0].person_id), json={"is_me": "maybe"}, headers=client.auth(me)
    )
    assert bad.status_code == 422


def test_a_person_goes_to_the_registered_member_it_matches_best(
    world: World, client: RouteClient
) -> None:
    """Given two registered members who look alike and a person that matches both (0.55 and
    0.8), then only the member it matches best gets its photos."""
    owner, a, b = world.user(), world.user(), world.user()
    group = world.group(owner, member=a)
    world.metadata.put_membership(Membership(group.group_id, b.user_id, GroupRole.MEMBER))
    ref_b = world.identity()
    ref_a = at(world.rng, ref_b, 0.68)
    selfie(world, a, ref_a)
    selfie(world, b, ref_b)
    faces = [world.photo(group, [at(world.rng, ref_b, 0.8)])[0] for _ in range(3)]
    world.person(group, faces)
    images = {f.image_id for f in faces}
    assert images <= my_photos(client, b, group)
    assert not images & my_photos(client, a, group)


def test_candidates_need_membership(world: World, client: RouteClient) -> None:
    """Given a group the caller is not in, then 403 access_denied; unknown group 404."""
    owner, me = world.user(), world.user()
    group = world.group(owner)
    got = client.http.get(
        f"/users/me/candidates?group_id={group.group_id}", headers=client.auth(me)
    )
    assert got.status_code == 403
    assert (
        client.http.get("/users/me/candidates?group_id=x", headers=client.auth(me)).status_code
        == 404
    )


def test_a_person_a_curator_gave_to_someone_else_is_not_mine(
    world: World, client: RouteClient
) -> None:
    """Given a person an organiser linked by hand to another member, then it is neither
    given nor offered to a user it resembles."""
    owner, me, other = world.user(), world.user(), world.user()
    group = world.group(owner, member=me)
    world.metadata.put_membership(Membership(group.group_id, other.user_id, GroupRole.MEMBER))
    ref = world.identity()
    selfie(world, me, ref)
    faces = person_at(world, group, ref, [0.7, 0.7, 0.36])
    world.metadata.put_person_link(
        PersonLink(
            group_id=group.group_id,
            person_id=faces[0].person_id or "",
            user_id=other.user_id,
            similarity=1.0,
            strategy="manual",
        )
    )
    assert not my_photos(client, me, group) & {f.image_id for f in faces}
    url = f"/users/me/candidates?group_id={group.group_id}"
    assert client.http.get(url, headers=client.auth(me)).json()["items"] == []


def test_every_selfie_counts_as_evidence(world: World, client: RouteClient) -> None:
    """Given a user with two selfies (say frontal and profile) and a person that matches only
    the second (0.7; 0.05 to the first), then its photos are the user's."""
    owner, me = world.user(), world.user()
    group = world.group(owner, member=me)
    first = world.identity()
    second = at(world.rng, first, 0.0)
    selfie(world, me, first)
    selfie(world, me, second)
    faces = [world.photo(group, [at(world.rng, second, 0.7)])[0] for _ in range(3)]
    world.person(group, faces)
    assert {f.image_id for f in faces} <= my_photos(client, me, group)
