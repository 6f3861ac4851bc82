"""Person-link routes through the real app: matching, listing, deleting, access, and the
former ``/assignments`` paths (deprecated aliases) answering the same.

Real vectors in Qdrant :memory: and items in moto DynamoDB (the curation world); persons are
synthetic identities, members register a selfie near their identity.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fakes import RouteClient, World
from findme.domain.records import GroupRole, Membership, ReferenceFace, Role, User
from findme.ports import FaceVector


@pytest.fixture(scope="module")
def client(world: World) -> RouteClient:
    return RouteClient(world)


def selfie(world: World, user: User, vector: Any) -> None:
    """Register ``vector`` as the user's reference face (as /register would)."""
    face_id = str(uuid.uuid4())
    world.metadata.put_reference_face(
        ReferenceFace(user_id=user.user_id, face_id=face_id, s3_key=f"selfies/{face_id}.jpg")
    )
    world.vectors.upsert(
        [FaceVector(face_id, "selfies", face_id, vector, kind="reference", user_id=user.user_id)]
    )


@pytest.fixture
def event(world: World) -> dict[str, Any]:
    """A group with persons of Alice, Bob and a stranger; Alice and Bob are members with a
    selfie, the stranger is nobody's; a photographer, an outsider and an admin."""
    owner, photographer, alice, bob = world.user(), world.user(), world.user(), world.user()
    group = world.group(owner, photographer=photographer, member=alice)
    world.metadata.put_membership(Membership(group.group_id, bob.user_id, GroupRole.MEMBER))
    ia, ib, ic = world.identity(), world.identity(), world.identity()
    persons = {
        name: world.person(group, [world.photo(group, [world.near(c)])[0] for _ in range(n)])
        for name, c, n in (("a", ia, 4), ("b", ib, 3), ("c", ic, 3))
    }
    selfie(world, alice, world.near(ia))
    selfie(world, bob, world.near(ib))
    return {
        "gid": group.group_id,
        "owner": owner,
        "photographer": photographer,
        "alice": alice,
        "bob": bob,
        "outsider": world.user(),
        "admin": world.user(Role.ADMIN),
        **{f"p{k}": v.person_id for k, v in persons.items()},
    }


def _error(response: Any, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"detail", "code"}
    if code:
        assert body["code"] == code, body


def _pairs(items: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(a["person_id"], a["user_id"]) for a in items}


def test_a_curator_links_persons_to_the_members_whose_selfies_match(
    client: RouteClient, world: World, event: dict[str, Any]
) -> None:
    gid, alice, bob = event["gid"], event["alice"], event["bob"]
    # When the owner runs the centroid matching
    r = client.http.post(
        f"/groups/{gid}/person-links",
        json={"strategy": "centroid", "threshold": 0.4},
        headers=client.auth(event["owner"]),
    )
    # Then Alice's and Bob's persons go to them, the stranger's to nobody
    assert r.status_code == 200, r.text
    run = r.json()
    assert _pairs(run["assignments"]) == {(event["pa"], alice.user_id), (event["pb"], bob.user_id)}
    assert (run["strategy"], run["threshold"]) == ("centroid", 0.4)
    assert (run["persons_considered"], run["users_considered"], run["removed"]) == (3, 2, 0)
    assert all(0.4 <= a["similarity"] <= 1.0 for a in run["assignments"])
    assert r.headers["X-RateLimit-Limit"] == "20"
    # And the persons are linked to their users
    assert world.metadata.get_person(event["pa"]).linked_user_id == alice.user_id
    assert world.metadata.get_person(event["pc"]).linked_user_id is None
    # And the owner lists them for the group (most similar first), paged
    listed = client.http.get(
        f"/groups/{gid}/person-links", headers=client.auth(event["owner"])
    ).json()
    assert _pairs(listed["items"]) == _pairs(run["assignments"])
    assert listed["items"][0]["similarity"] >= listed["items"][1]["similarity"]
    first = client.http.get(
        f"/groups/{gid}/person-links", params={"limit": 1}, headers=client.auth(event["owner"])
    ).json()
    rest = client.http.get(
        f"/groups/{gid}/person-links",
        params={"limit": 1, "cursor": first["next_cursor"]},
        headers=client.auth(event["owner"]),
    ).json()
    assert [first["items"][0], rest["items"][0]] == listed["items"]
    assert rest["next_cursor"] is None
    only_bob = client.http.get(
        f"/groups/{gid}/person-links",
        params={"user_id": bob.user_id},
        headers=client.auth(event["owner"]),
    ).json()
    assert _pairs(only_bob["items"]) == {(event["pb"], bob.user_id)}
    # And Alice sees hers as "me", an admin sees hers by id
    mine = client.http.get("/users/me/person-links", headers=client.auth(alice)).json()
    assert _pairs(mine["items"]) == {(event["pa"], alice.user_id)}
    by_admin = client.http.get(
        f"/users/{alice.user_id}/person-links", headers=client.auth(event["admin"])
    ).json()
    assert by_admin["items"] == mine["items"]


def test_a_vote_run_replaces_the_centroid_run(client: RouteClient, event: dict[str, Any]) -> None:
    gid, owner = event["gid"], event["owner"]
    # Given a centroid run, When a vote run follows with the default threshold
    client.http.post(f"/groups/{gid}/person-links", headers=client.auth(owner))
    r = client.http.post(
        f"/groups/{gid}/person-links", json={"strategy": "vote"}, headers=client.auth(owner)
    )
    # Then the same persons are linked, now by vote (every face voted: share 1.0), and
    # "similarity" is still a cosine similarity, the vote share apart (issue 12)
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["threshold"] == client.settings.match_threshold
    assert {(a["person_id"], a["strategy"], a["vote_share"]) for a in run["assignments"]} == {
        (event["pa"], "vote", 1.0),
        (event["pb"], "vote", 1.0),
    }
    assert all(0.4 <= a["similarity"] < 1.0 for a in run["assignments"])
    listed = client.http.get(f"/groups/{gid}/person-links", headers=client.auth(owner)).json()
    assert {a["strategy"] for a in listed["items"]} == {"vote"}


def test_deleting_a_person_link_unlinks_the_person(
    client: RouteClient, world: World, event: dict[str, Any]
) -> None:
    gid, owner, alice = event["gid"], event["owner"], event["alice"]
    client.http.post(f"/groups/{gid}/person-links", headers=client.auth(owner))
    # When the owner deletes Alice's person link
    r = client.http.delete(f"/groups/{gid}/person-links/{event['pa']}", headers=client.auth(owner))
    # Then it is gone from both listings and the person is unlinked; again is a 404
    assert r.status_code == 200, r.text
    listed = client.http.get(f"/groups/{gid}/person-links", headers=client.auth(owner)).json()
    assert _pairs(listed["items"]) == {(event["pb"], event["bob"].user_id)}
    assert client.http.get("/users/me/person-links", headers=client.auth(alice)).json() == {
        "items": [],
        "next_cursor": None,
    }
    assert world.metadata.get_person(event["pa"]).linked_user_id is None
    _error(
        client.http.delete(f"/groups/{gid}/person-links/{event['pa']}", headers=client.auth(owner)),
        404,
    )


def test_only_curators_run_list_and_delete_and_users_read_only_their_own(
    client: RouteClient, world: World, event: dict[str, Any]
) -> None:
    gid, alice, bob = event["gid"], event["alice"], event["bob"]
    client.http.post(f"/groups/{gid}/person-links", headers=client.auth(event["owner"]))
    url = f"/groups/{gid}/person-links"
    # A member or a photographer may not run, list or delete; an outsider is not in the
    # group; no token is 401
    for who in (alice, event["photographer"]):
        _error(client.http.post(url, headers=client.auth(who)), 403, "access_denied")
        _error(client.http.get(url, headers=client.auth(who)), 403, "access_denied")
        _error(
            client.http.delete(f"{url}/{event['pa']}", headers=client.auth(who)),
            403,
            "access_denied",
        )
    _error(client.http.post(url, headers=client.auth(event["outsider"])), 403, "access_denied")
    _error(client.http.get(url), 401, "missing_token")
    # Bob may not read Alice's; an admin gets 404 for an unknown user; an unknown group is 404
    _error(client.http.get(f"/users/{alice.user_id}/person-links", headers=client.auth(bob)), 403)
    _error(client.http.get("/users/nobody/person-links", headers=client.auth(event["admin"])), 404)
    _error(
        client.http.post(
            f"/groups/{uuid.uuid4()}/person-links", headers=client.auth(event["admin"])
        ),
        404,
    )
    # And nothing the refused calls tried changed the person links
    assert world.metadata.get_person(event["pa"]).linked_user_id == alice.user_id


@pytest.mark.parametrize(
    "body",
    [
        {"strategy": "nearest"},
        {"threshold": 1.5},
        {"threshold": -1.01},
        {"threshold": "high"},
        {"min_vote_fraction": 0},
        {"user_ids": []},
    ],
)
def test_bad_run_parameters_are_422_json(
    client: RouteClient, event: dict[str, Any], body: dict[str, Any]
) -> None:
    r = client.http.post(
        f"/groups/{event['gid']}/person-links", json=body, headers=client.auth(event["owner"])
    )
    _error(r, 422, "validation_error")
    assert r.json()["errors"][0]["loc"][:2] == ["body", next(iter(body))]


def test_candidates_must_be_members_and_cursors_must_be_ours(
    client: RouteClient, world: World, event: dict[str, Any]
) -> None:
    gid, owner = event["gid"], event["owner"]
    # Given an outsider who registered a selfie of Alice's identity
    outsider = event["outsider"]
    alice_face = world.vectors.get([world.metadata.list_faces_of_person(event["pa"])[0].face_id])
    selfie(world, outsider, alice_face[0].vector)
    # When a curator names them as a candidate, Then 400 and nothing is linked
    r = client.http.post(
        f"/groups/{gid}/person-links",
        json={"user_ids": [event["alice"].user_id, outsider.user_id]},
        headers=client.auth(owner),
    )
    _error(r, 400, "not_group_member")
    assert r.json()["user_ids"] == [outsider.user_id]
    assert world.metadata.list_person_links(group_id=gid) == []
    # And a cursor that is not one of ours is 400 invalid_cursor
    _error(
        client.http.get(
            f"/groups/{gid}/person-links", params={"cursor": "!!"}, headers=client.auth(owner)
        ),
        400,
        "invalid_cursor",
    )


#: The former word in the paths, served as deprecated aliases (mobile clients in the field).
FORMER = "assignments"


def _without_times(body: Any) -> Any:
    """The answer with ``created_at`` (each run stores its links anew) left out."""
    if isinstance(body, dict):
        return {k: _without_times(v) for k, v in body.items() if k != "created_at"}
    if isinstance(body, list):
        return [_without_times(v) for v in body]
    return body


def test_the_former_assignments_paths_answer_as_the_person_link_paths(
    client: RouteClient, world: World, event: dict[str, Any]
) -> None:
    gid, owner, alice = event["gid"], event["owner"], event["alice"]

    def both(method: str, suffix: str, who: User) -> tuple[Any, Any]:
        """``method`` on ``.../person-links{suffix}`` then on ``.../assignments{suffix}``."""
        answers = []
        for word in ("person-links", FORMER):
            root = f"/groups/{gid}/{word}" if who is owner else f"/users/me/{word}"
            r = client.http.request(method, root + suffix, headers=client.auth(who))
            answers.append((r.status_code, _without_times(r.json())))
        return answers[0], answers[1]

    # Given the group's persons linked by a run on each path, Then both runs store the same
    new, old = both("POST", "", owner)
    assert new == old
    assert (new[0], len(new[1]["assignments"])) == (200, 2)
    # And the group's links, a user's links and statistics read the same on both paths
    for method, suffix, who in (("GET", "", owner), ("GET", "", alice), ("GET", "/stats", alice)):
        new, old = both(method, suffix, who)
        assert new == old, (suffix, new, old)
        assert new[0] == 200, (suffix, new)
    # And deleting through the former path deletes (the same message), then 404 on both
    r = client.http.delete(f"/groups/{gid}/{FORMER}/{event['pa']}", headers=client.auth(owner))
    assert (r.status_code, r.json()) == (200, {"message": "Assignment deleted."})
    assert world.metadata.get_person(event["pa"]).linked_user_id is None
    new, old = both("DELETE", f"/{event['pa']}", owner)
    assert new == old
    assert new[0] == 404
    # And the OpenAPI document marks each former path deprecated, with the new one's schemas
    doc = client.http.get("/openapi.json").json()["paths"]
    for template in (
        "/groups/{group_id}/person-links",
        "/groups/{group_id}/person-links/{person_id}",
        "/users/{user_id}/person-links",
        "/users/{user_id}/person-links/stats",
    ):
        former = doc[template.replace("person-links", FORMER)]
        assert set(former) == set(doc[template])
        for method, operation in former.items():
            assert operation["deprecated"] is True
            assert "deprecated" not in doc[template][method]
            assert operation["responses"] == doc[template][method]["responses"]
            assert operation.get("requestBody") == doc[template][method].get("requestBody")
