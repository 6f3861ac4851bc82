"""Roles that can be granted (issue 12): an owner invites or promotes photographers and
co-owners, demotes and removes members, lists them; invite codes carry a role. What each role
may then do is the permission contract (``test_api_permissions.py``)."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import Api, jpeg
from findme.domain.records import PersonLink

UPLOAD = [("files", ("a.jpg", jpeg(seed=21), "image/jpeg"))]


@pytest.fixture
def crew(api: Api) -> dict[str, Any]:
    """An organiser's group; Pat (registered, not in it) and Mo (a member)."""
    owner_id, owner, _ = api.register("Organiser")
    pat_id, pat, _ = api.register("Pat")
    mo_id, mo, _ = api.register("Mo")
    group = api.group(owner)
    api.join(mo, group)
    return {
        "gid": group["group_id"],
        "group": group,
        "owner": owner,
        "owner_id": owner_id,
        "pat": pat,
        "pat_id": pat_id,
        "mo": mo,
        "mo_id": mo_id,
    }


def upload(api: Api, token: str, gid: str) -> int:
    response = api.client.post(
        "/upload", data={"group_id": gid}, files=UPLOAD, headers=api.auth(token)
    )
    status: int = response.status_code
    return status


def test_an_organiser_adds_a_photographer_who_then_uploads(api: Api, crew: dict[str, Any]) -> None:
    gid, owner, pat = crew["gid"], crew["owner"], crew["pat"]
    # Given Pat, not in the group, cannot upload to it
    assert upload(api, pat, gid) == 403
    # When the organiser adds Pat as photographer by phone number
    phone = api.client.get("/users/me", headers=api.auth(pat)).json()["phone_number"]
    added = api.client.post(
        f"/groups/{gid}/members",
        json={"phone_number": phone, "role": "photographer"},
        headers=api.auth(owner),
    )
    assert added.status_code == 201, added.text
    assert {k: added.json()[k] for k in ("user_id", "name", "role")} == {
        "user_id": crew["pat_id"],
        "name": "Pat",
        "role": "photographer",
    }
    # Then Pat uploads, and the group shows Pat's role
    assert upload(api, pat, gid) == 202
    mine = api.client.get(f"/groups/{gid}", headers=api.auth(pat)).json()
    assert mine["role"] == "photographer"
    # But a photographer curates nothing: renaming the group or listing members is refused
    refused = api.client.get(f"/groups/{gid}/members", headers=api.auth(pat))
    assert refused.status_code == 403
    assert (refused.json()["code"], refused.json()["need"], refused.json()["role"]) == (
        "access_denied",
        "administer",
        "photographer",
    )
    # And adding Pat again is a conflict, adding someone unregistered a 404
    again = api.client.post(
        f"/groups/{gid}/members", json={"user_id": crew["pat_id"]}, headers=api.auth(owner)
    )
    assert (again.status_code, again.json()["code"]) == (409, "already_member")
    nobody = api.client.post(
        f"/groups/{gid}/members", json={"phone_number": "+14155559999"}, headers=api.auth(owner)
    )
    assert (nobody.status_code, nobody.json()["code"]) == (404, "user_not_found")


def test_promote_demote_list_and_remove(api: Api, crew: dict[str, Any]) -> None:
    gid, owner, mo, mo_id = crew["gid"], crew["owner"], crew["mo"], crew["mo_id"]
    url = f"/groups/{gid}/members/{mo_id}"
    # When the organiser makes Mo a co-owner, Then Mo administers the group too
    promoted = api.client.patch(url, json={"role": "owner"}, headers=api.auth(owner))
    assert (promoted.status_code, promoted.json()["role"]) == (200, "owner")
    renamed = api.client.patch(
        f"/groups/{gid}", json={"group_name": "Gala, day 2"}, headers=api.auth(mo)
    )
    assert (renamed.status_code, renamed.json()["group_name"]) == (200, "Gala, day 2")
    # And the members list shows owners first, then the others, each with name and role
    listed = api.client.get(f"/groups/{gid}/members", headers=api.auth(mo)).json()
    assert [(m["name"], m["role"]) for m in listed["items"]] == [
        ("Organiser", "owner"),
        ("Mo", "owner"),
    ]
    only = api.client.get(
        f"/groups/{gid}/members", params={"role": "member"}, headers=api.auth(owner)
    ).json()
    assert only["items"] == []
    # When the organiser demotes Mo back to member, Then Mo can no longer administer
    api.client.patch(url, json={"role": "member"}, headers=api.auth(owner))
    assert (
        api.client.patch(
            f"/groups/{gid}", json={"group_name": "x"}, headers=api.auth(mo)
        ).status_code
        == 403
    )
    # And a member reads their own membership, not others'
    assert api.client.get(url, headers=api.auth(mo)).json()["role"] == "member"
    other = api.client.get(f"/groups/{gid}/members/{crew['owner_id']}", headers=api.auth(mo))
    assert other.status_code == 403
    # When the organiser removes Mo, Then Mo is out of the group
    assert api.client.delete(url, headers=api.auth(owner)).status_code == 200
    assert api.client.get(f"/groups/{gid}", headers=api.auth(mo)).status_code == 403
    gone = api.client.get(url, headers=api.auth(owner))
    assert (gone.status_code, gone.json()["code"]) == (404, "member_not_found")


def test_a_group_keeps_one_owner(api: Api, crew: dict[str, Any]) -> None:
    gid, owner, owner_id = crew["gid"], crew["owner"], crew["owner_id"]
    url = f"/groups/{gid}/members/{owner_id}"
    # The only owner can neither be demoted nor leave
    for response in (
        api.client.patch(url, json={"role": "member"}, headers=api.auth(owner)),
        api.client.delete(url, headers=api.auth(owner)),
    ):
        assert (response.status_code, response.json()["code"]) == (409, "last_owner")
    # With a co-owner, the first owner may step down
    api.client.patch(
        f"/groups/{gid}/members/{crew['mo_id']}", json={"role": "owner"}, headers=api.auth(owner)
    )
    stepped = api.client.patch(url, json={"role": "photographer"}, headers=api.auth(owner))
    assert (stepped.status_code, stepped.json()["role"]) == (200, "photographer")


def test_a_member_leaves_and_loses_their_person_links(api: Api, crew: dict[str, Any]) -> None:
    gid, mo, mo_id = crew["gid"], crew["mo"], crew["mo_id"]
    s = api.stores
    person = s.person(gid).person_id
    s.metadata.put_person_link(PersonLink(gid, person, mo_id, 0.7, "evidence"))
    s.metadata.update_person(person, linked_user_id=mo_id)
    # When Mo leaves the group
    left = api.client.delete(f"/groups/{gid}/members/{mo_id}", headers=api.auth(mo))
    # Then the membership, the person link and the person's link are gone
    assert left.status_code == 200
    assert s.metadata.get_membership(gid, mo_id) is None
    assert s.metadata.list_person_links(user_id=mo_id) == []
    assert s.metadata.get_person(person).linked_user_id is None


def test_a_photographer_invite_code_makes_photographers(api: Api, crew: dict[str, Any]) -> None:
    gid, owner, pat, mo = crew["gid"], crew["owner"], crew["pat"], crew["mo"]
    # Given a group has no photographer code until the organiser makes one
    assert (
        api.client.get(f"/groups/{gid}", headers=api.auth(owner)).json()["photographer_invite_code"]
        is None
    )
    made = api.client.post(
        f"/groups/{gid}/invite-codes", json={"role": "photographer"}, headers=api.auth(owner)
    )
    assert made.status_code == 200, made.text
    code = made.json()["photographer_invite_code"]
    assert len(code) == 10
    assert code != crew["group"]["invite_code"]
    # Then it is shown to owners only; members see the attendees' code
    seen = api.client.get(f"/groups/{gid}", headers=api.auth(mo)).json()
    assert (seen["invite_code"], seen["photographer_invite_code"]) == (
        crew["group"]["invite_code"],
        None,
    )
    # When Pat joins with it, Pat is a photographer and uploads
    joined = api.client.post(
        f"/groups/{gid}/join", json={"invite_code": code.lower()}, headers=api.auth(pat)
    )
    assert (joined.status_code, joined.json()["role"]) == (200, "photographer")
    assert upload(api, pat, gid) == 202
    # And a member joining with it is raised to photographer; the attendees' code never
    # lowers anyone
    raised = api.client.post(
        f"/groups/{gid}/join", json={"invite_code": code}, headers=api.auth(mo)
    )
    assert raised.json()["role"] == "photographer"
    kept = api.client.post(
        f"/groups/{gid}/join",
        json={"invite_code": crew["group"]["invite_code"]},
        headers=api.auth(pat),
    )
    assert kept.json()["role"] == "photographer"
    # When the organiser replaces the code, the old one stops working; owners get no code
    api.client.post(
        f"/groups/{gid}/invite-codes", json={"role": "photographer"}, headers=api.auth(owner)
    )
    _, late, _ = api.register("Late")
    stale = api.client.post(
        f"/groups/{gid}/join", json={"invite_code": code}, headers=api.auth(late)
    )
    assert (stale.status_code, stale.json()["code"]) == (403, "invalid_invite_code")
    owner_code = api.client.post(
        f"/groups/{gid}/invite-codes", json={"role": "owner"}, headers=api.auth(owner)
    )
    assert owner_code.status_code == 400
