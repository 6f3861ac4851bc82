"""Person links: centroid and vote strategies, store/list/delete, linked users."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from fakes import DIM as D
from fakes import World, blob, photo, unit
from findme.domain.records import GroupRole, Membership, PersonLink, ReferenceFace
from findme.domain.user_matching import match_persons_to_users
from findme.errors import InvalidInputError, NotFoundError
from findme.ports import FaceVector
from findme.services.cluster import cluster_group
from findme.services.person_links import (
    delete_person_link,
    link_persons_to_users,
    list_person_links,
)


# --- domain ------------------------------------------------------------------------------------
def test_both_strategies_match_a_person_to_the_user_of_the_nearest_selfie() -> None:
    # Given person P (identity 0) and Q (identity 1), and selfies of users u0 (identity 0)
    # and u9 (a stranger)
    rng = np.random.default_rng(0)
    c0, c1, c9 = (unit(rng.standard_normal(D)) for _ in range(3))
    faces = np.vstack([blob(rng, c0, 6), blob(rng, c1, 4)])
    persons = ["P"] * 6 + ["Q"] * 4
    refs = np.vstack([blob(rng, c0, 1), blob(rng, c9, 1)])
    for strategy in ("centroid", "vote"):
        # When matched, Then only P goes to u0
        got = match_persons_to_users(
            faces, persons, refs, ["u0", "u9"], strategy=strategy, threshold=0.4
        )
        assert [(m.person_id, m.user_id) for m in got] == [("P", "u0")]
        assert got[0].mean_similarity > 0.4
    vote = match_persons_to_users(
        faces, persons, refs, ["u0", "u9"], strategy="vote", threshold=0.4
    )
    # the vote share is apart; similarity stays a cosine similarity (issue 12)
    assert vote[0].vote_share == 1.0
    assert vote[0].similarity == vote[0].mean_similarity < 1.0


def test_vote_needs_the_minimum_share_of_faces() -> None:
    # Given a person whose faces are 3 of identity 0 and 7 of identity 1 (a bad cluster)
    rng = np.random.default_rng(1)
    c0, c1 = unit(rng.standard_normal(D)), unit(rng.standard_normal(D))
    faces = np.vstack([blob(rng, c0, 3), blob(rng, c1, 7)])
    ref = blob(rng, c0, 1)
    # When matched to identity 0's user by vote
    strict = match_persons_to_users(
        faces, ["P"] * 10, ref, ["u0"], strategy="vote", threshold=0.4, min_vote_fraction=0.5
    )
    loose = match_persons_to_users(
        faces, ["P"] * 10, ref, ["u0"], strategy="vote", threshold=0.4, min_vote_fraction=0.3
    )
    # Then 30 % of votes is not enough at 0.5 but is at 0.3
    assert strict == []
    assert [m.vote_share for m in loose] == [pytest.approx(0.3)]


def test_an_unknown_strategy_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        match_persons_to_users(
            np.ones((1, D)), ["P"], np.ones((1, D)), ["u"], strategy="x", threshold=0.4
        )


# --- service -----------------------------------------------------------------------------------
def setup_group(stores: World, group_id: str) -> tuple[str, str, str]:
    """Three clustered identities; members u0 (selfie of identity 0), u1 (identity 1), u9
    (stranger). Returns the persons of identities 0, 1, 2."""
    rng = np.random.default_rng(5)
    centres = [unit(rng.standard_normal(D)) for _ in range(4)]
    x = np.vstack([blob(rng, centres[0], 5), blob(rng, centres[1], 4), blob(rng, centres[2], 3)])
    faces = stores.add_faces(group_id, x, [photo(f"{group_id}-{i}") for i in range(12)])
    cluster_group(
        group_id, metadata=stores.metadata, vectors=stores.vectors, eps=0.475, min_samples=2
    )
    for user_id, centre in (("u0", centres[0]), ("u1", centres[1]), ("u9", centres[3])):
        stores.metadata.put_membership(Membership(group_id, user_id, GroupRole.MEMBER))
        face_id = str(uuid.uuid4())
        stores.metadata.put_reference_face(
            ReferenceFace(user_id=user_id, face_id=face_id, s3_key=f"selfies/{user_id}.jpg")
        )
        selfie = np.asarray(blob(rng, centre, 1, 0.3)[0], dtype=np.float32)
        stores.vectors.upsert(
            [FaceVector(face_id, "selfies", face_id, selfie, kind="reference", user_id=user_id)]
        )
    got = {f.face_id: f.person_id for f in stores.metadata.get_faces([f.face_id for f in faces])}
    p0, p1, p2 = (got[faces[i].face_id] for i in (0, 5, 9))
    assert p0
    assert p1
    assert p2
    return p0, p1, p2


@pytest.mark.parametrize("strategy", ["centroid", "vote"])
def test_persons_are_linked_to_their_users(stores: World, group_id: str, strategy: str) -> None:
    # Given a clustered group with three members who registered selfies
    p0, p1, p2 = setup_group(stores, group_id)
    # When persons are linked to users
    run = link_persons_to_users(
        group_id, metadata=stores.metadata, vectors=stores.vectors, threshold=0.4, strategy=strategy
    )
    # Then identity 0 goes to u0 and identity 1 to u1; identity 2 has no user
    assert sorted((a.person_id, a.user_id) for a in run.links) == sorted([(p0, "u0"), (p1, "u1")])
    assert run.persons_considered == 3
    assert run.users_considered == 3
    assert stores.metadata.get_person(p0).linked_user_id == "u0"
    assert stores.metadata.get_person(p2).linked_user_id is None
    # And they are listed per group and per user
    assert len(list_person_links(stores.metadata, group_id=group_id)) == 2
    mine = list_person_links(stores.metadata, user_id="u1")
    assert [(a.person_id, a.strategy) for a in mine] == [(p1, strategy)]


def test_a_new_run_replaces_stale_automatic_person_links_but_keeps_manual_ones(
    stores: World, group_id: str
) -> None:
    # Given automatic person links, then a curator's manual link of identity 2 to u9
    p0, p1, p2 = setup_group(stores, group_id)
    link_persons_to_users(group_id, metadata=stores.metadata, vectors=stores.vectors, threshold=0.4)
    stores.metadata.put_person_link(
        PersonLink(group_id=group_id, person_id=p2, user_id="u9", similarity=1.0, strategy="manual")
    )
    # When the run is repeated with only u0 as candidate
    run = link_persons_to_users(
        group_id, metadata=stores.metadata, vectors=stores.vectors, threshold=0.4, user_ids=["u0"]
    )
    # Then u1's person link is gone (and unlinked), u0's and the manual one stay
    assert run.removed == 1
    pairs = sorted(
        (a.person_id, a.user_id) for a in list_person_links(stores.metadata, group_id=group_id)
    )
    assert pairs == sorted([(p0, "u0"), (p2, "u9")])
    assert stores.metadata.get_person(p1).linked_user_id is None


def test_deleting_a_person_link_unlinks_the_person(stores: World, group_id: str) -> None:
    # Given a person link of identity 0 to u0
    p0, _, _ = setup_group(stores, group_id)
    link_persons_to_users(group_id, metadata=stores.metadata, vectors=stores.vectors, threshold=0.4)
    # When it is deleted
    delete_person_link(stores.metadata, group_id, p0)
    # Then it is gone, the person is unlinked, and deleting again is a 404
    assert all(a.person_id != p0 for a in list_person_links(stores.metadata, group_id=group_id))
    assert stores.metadata.get_person(p0).linked_user_id is None
    with pytest.raises(NotFoundError):
        delete_person_link(stores.metadata, group_id, p0)


def test_bad_inputs_are_refused(stores: World, group_id: str) -> None:
    with pytest.raises(InvalidInputError):
        link_persons_to_users(
            group_id, metadata=stores.metadata, vectors=stores.vectors, threshold=0.4, strategy="x"
        )
    with pytest.raises(InvalidInputError):
        link_persons_to_users(
            group_id, metadata=stores.metadata, vectors=stores.vectors, threshold=1.5
        )
    with pytest.raises(InvalidInputError):
        list_person_links(stores.metadata)
