"""The seed features issue 12 found missing or rough, through the real app over the fakes:
group edits and counts, reference selfies, person search and thumbnails, image faces, the
cluster status, person-link statistics, the version, CORS, section descriptions and counts,
one name per concept, errors that say what is wrong, the seed's paths and limits."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import findme
import pytest
from fakes import Api, build_api, detected, jpeg, make_settings, new_phone
from findme.commands.local_run import local_cors_origins, with_local_cors
from findme.domain.records import Face, PersonLink, Role


@pytest.fixture
def event(api: Api) -> dict[str, Any]:
    """An owner's group with one photo of two faces: Alice's (named person, a member) and an
    unnamed person's; an admin."""
    owner_id, owner, _ = api.register("Owner")
    member_id, member, member_vec = api.register("Alice")
    admin_id, admin, _ = api.register("Admin")
    user = api.stores.metadata.get_user(admin_id)
    api.stores.metadata.put_user(dataclasses.replace(user, role=Role.ADMIN))
    group = api.group(owner)
    api.join(member, group)
    gid = group["group_id"]
    s = api.stores
    alice, other = s.person(gid).person_id, s.person(gid).person_id
    s.metadata.update_person(alice, name="Alice Liddell")
    image = s.image(gid, [s.near(member_vec), s.identity()], [alice, other])
    faces = s.metadata.list_faces_of_image(image.image_id)
    for face in faces:
        key = f"faces/{gid}/{face.face_id}.jpg"
        s.objects.put(key, jpeg(seed=9), "image/jpeg")
        s.metadata.put_faces([dataclasses.replace(face, thumbnail_key=key)])
    s.metadata.update_person(alice, cover_face_id=faces[0].face_id)
    s.metadata.put_person_link(PersonLink(gid, alice, member_id, 0.66, "evidence"))
    return {
        "gid": gid,
        "owner": owner,
        "owner_id": owner_id,
        "member": member,
        "member_id": member_id,
        "admin": admin,
        "image": image,
        "faces": faces,
        "alice": alice,
        "other": other,
    }


# --- groups ---------------------------------------------------------------------------------------
def test_patch_a_group_and_list_groups_with_counts(api: Api, event: dict[str, Any]) -> None:
    gid, owner = event["gid"], event["owner"]
    # When the owner changes the description only, Then the name stays
    patched = api.client.patch(
        f"/groups/{gid}", json={"description": "Garden, day 2"}, headers=api.auth(owner)
    ).json()
    assert (patched["group_name"], patched["description"]) == ("Gala", "Garden, day 2")
    # And a blank name is refused
    blank = api.client.patch(f"/groups/{gid}", json={"group_name": "  "}, headers=api.auth(owner))
    assert blank.status_code == 400
    # And GET /groups carries image_counts, as GET /groups/{id} does (it was null)
    listed = api.client.get("/groups", headers=api.auth(event["member"])).json()["groups"]
    assert listed[0]["image_counts"] == {
        "uploaded": 0,
        "processing": 0,
        "processed": 1,
        "failed": 0,
        "total": 1,
    }


# --- reference selfies ----------------------------------------------------------------------------
def test_list_and_remove_selfies_never_the_last(api: Api, event: dict[str, Any]) -> None:
    member, member_id = event["member"], event["member_id"]
    # Given a second selfie whose face crop the engine returns
    crop = jpeg(seed=77, width=32, height=32)
    face = dataclasses.replace(detected(api.stores.identity()), crop_jpeg=crop)
    selfie = api.engine.register(jpeg(seed=76), [face])
    added = api.client.post(
        "/users/me/selfies",
        files={"selfie": ("s.jpg", selfie, "image/jpeg")},
        headers=api.auth(member),
    )
    assert added.status_code == 201
    # When listing them, Then both come with a thumbnail URL, the new one of its face crop
    listed = api.client.get("/users/me/selfies", headers=api.auth(member)).json()
    assert listed["user_id"] == member_id
    assert [s["face_id"] for s in listed["selfies"]][1] == added.json()["face_id"]
    assert all(s["thumbnail_url"].startswith("https://") for s in listed["selfies"])
    assert f"{added.json()['face_id']}-face.jpg" in listed["selfies"][1]["thumbnail_url"]
    ref = api.stores.metadata.list_reference_faces(member_id)
    crop_key = next(r.thumbnail_key for r in ref if r.face_id == added.json()["face_id"])
    assert crop_key is not None
    assert api.stores.objects.get(crop_key) == crop
    # When the first is removed, Then one is left, and its vector and files are gone
    first = listed["selfies"][0]["face_id"]
    removed = api.client.delete(f"/users/me/selfies/{first}", headers=api.auth(member))
    assert removed.json()["reference_faces"] == 1
    assert api.stores.vectors.get([first]) == []
    # And the last one is kept: 409 last_selfie
    last = api.client.delete(
        f"/users/me/selfies/{added.json()['face_id']}", headers=api.auth(member)
    )
    assert (last.status_code, last.json()["code"]) == (409, "last_selfie")
    assert (
        api.client.delete(f"/users/me/selfies/{first}", headers=api.auth(member)).json()["code"]
        == "selfie_not_found"
    )


def test_an_admin_manages_anyones_selfies(api: Api, event: dict[str, Any]) -> None:
    admin, member_id = event["admin"], event["member_id"]
    # An admin lists a member's selfies; an unknown user is 404 user_not_found
    assert (
        len(
            api.client.get(f"/users/{member_id}/selfies", headers=api.auth(admin)).json()["selfies"]
        )
        == 1
    )
    unknown = api.client.get(f"/users/{uuid.uuid4()}/selfies", headers=api.auth(admin))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "user_not_found")
    # Another member may not (403, not told whether the user exists)
    refused = api.client.get(f"/users/{member_id}/selfies", headers=api.auth(event["owner"]))
    assert (refused.status_code, refused.json()["code"]) == (403, "access_denied")


# --- persons and images ---------------------------------------------------------------------------
def test_persons_are_searched_by_name_and_carry_a_thumbnail(
    api: Api, event: dict[str, Any]
) -> None:
    url = f"/groups/{event['gid']}/persons"
    owner = api.auth(event["owner"])
    # When searching "lid" (any case), Then only Alice Liddell comes, with her cover crop
    found = api.client.get(url, params={"q": "LID"}, headers=owner).json()["items"]
    assert [p["person_id"] for p in found] == [event["alice"]]
    assert found[0]["cover_thumbnail_url"].startswith("https://")
    # And unnamed persons never match a search; without one every person is listed
    assert api.client.get(url, params={"q": "x"}, headers=owner).json()["items"] == []
    assert len(api.client.get(url, headers=owner).json()["items"]) == 2


def test_image_details_list_faces_with_boxes_and_person_names(
    api: Api, event: dict[str, Any]
) -> None:
    image = event["image"]
    body = api.client.get(f"/images/{image.image_id}", headers=api.auth(event["owner"])).json()
    assert [
        (f["face_id"], f["facial_area"], f["person_id"], f["person_name"]) for f in body["faces"]
    ] == [
        (
            event["faces"][0].face_id,
            {"x": 0, "y": 0, "w": 80, "h": 80},
            event["alice"],
            "Alice Liddell",
        ),
        (event["faces"][1].face_id, {"x": 0, "y": 0, "w": 80, "h": 80}, event["other"], None),
    ]


# --- clustering and person links ------------------------------------------------------------------
def test_cluster_status_shows_the_latest_run(api: Api, event: dict[str, Any]) -> None:
    gid, owner = event["gid"], event["owner"]
    url = f"/groups/{gid}/cluster-status"
    # Given a group never clustered through the API
    before = api.client.get(url, headers=api.auth(owner)).json()
    assert (before["job"], before["clustered_at"], before["person_count"]) == (None, None, 0)
    # When the owner re-clusters, Then its job is the group's latest run
    job_id = api.client.post(f"/groups/{gid}/recluster", json={}, headers=api.auth(owner)).json()[
        "job_id"
    ]
    after = api.client.get(url, headers=api.auth(owner)).json()
    assert (after["job"]["job_id"], after["job"]["job_type"], after["job"]["status"]) == (
        job_id,
        "cluster",
        "pending",
    )
    # And the gallery a finished run leaves shows with it
    api.stores.metadata.set_group_gallery(gid, persons=2, clustered_faces=2)
    done = api.client.get(url, headers=api.auth(owner)).json()
    assert (done["person_count"], done["clustered_face_count"]) == (2, 2)
    assert done["clustered_at"] is not None


def test_a_users_person_link_statistics(api: Api, event: dict[str, Any]) -> None:
    stats = api.client.get("/users/me/person-links/stats", headers=api.auth(event["member"]))
    assert stats.json() | {"last_assigned_at": None} == {
        "user_id": event["member_id"],
        "assignments": 1,
        "groups": 1,
        "faces": 0,  # the fake person's counters are not recomputed
        "images": 0,
        "by_strategy": {"evidence": 1},
        "mean_similarity": 0.66,
        "last_assigned_at": None,
    }
    assert stats.json()["last_assigned_at"] is not None
    empty = api.client.get("/users/me/person-links/stats", headers=api.auth(event["owner"])).json()
    assert (empty["assignments"], empty["mean_similarity"]) == (0, None)


# --- the service ----------------------------------------------------------------------------------
def test_root_gives_name_and_version_and_health_its_checks(api: Api) -> None:
    assert api.client.get("/").json() == {"name": "FindMe API", "version": findme.__version__}
    health = api.client.get("/health").json()
    assert set(health["checks"]) == {"dynamodb", "s3", "qdrant"}


def test_cors_follows_the_setting(stores: Any) -> None:
    origin = "http://localhost:5173"
    preflight = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    # Given origins from the settings, When a browser preflights, Then it is allowed
    api = build_api(stores, cors_origins=[origin])
    answer = api.client.options("/create-group", headers=preflight)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == origin
    assert "authorization" in answer.headers["access-control-allow-headers"].lower()
    # And answers name the origin and expose the rate-limit headers, errors included
    got = api.client.get("/users/me", headers={"Origin": origin})
    assert got.status_code == 401
    assert got.headers["access-control-allow-origin"] == origin
    assert "X-RateLimit-Remaining" in got.headers["access-control-expose-headers"]
    # But another origin is not allowed
    other = api.client.options(
        "/create-group", headers={**preflight, "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers
    # And without the setting there are no CORS answers (a deployed API configures its own)
    plain = build_api(stores).client.options("/create-group", headers=preflight)
    assert plain.status_code == 405


def test_make_run_allows_its_own_origin_and_vites() -> None:
    # Given make run's settings and no FINDME_CORS_ORIGINS, Then the API's own origin
    # and Vite's dev server are allowed; a value in the environment wins (empty: none)
    settings = make_settings(port=8080)
    assert local_cors_origins(8080) == [
        "http://127.0.0.1:8080",
        "http://localhost:8080",
        "http://localhost:5173",
    ]
    assert with_local_cors(settings, {}).cors_origins == local_cors_origins(8080)
    given = {"FINDME_CORS_ORIGINS": ""}
    assert with_local_cors(settings, given).cors_origins == []


# --- sections -------------------------------------------------------------------------------------
def test_sections_keep_their_description_and_count_their_images(
    api: Api, event: dict[str, Any]
) -> None:
    gid, owner = event["gid"], api.auth(event["owner"])
    created = api.client.post(
        f"/groups/{gid}/sections",
        json={"name": "Ceremony", "description": "Vows, 15:00"},
        headers=owner,
    ).json()
    assert created["description"] == "Vows, 15:00"  # it was silently dropped
    sid = created["section_id"]
    api.client.post(
        f"/groups/{gid}/sections/{sid}/images",
        json={"image_ids": [event["image"].image_id]},
        headers=owner,
    )
    patched = api.client.patch(
        f"/groups/{gid}/sections/{sid}", json={"description": "Vows and rings"}, headers=owner
    ).json()
    assert (patched["name"], patched["description"]) == ("Ceremony", "Vows and rings")
    listed = api.client.get(f"/groups/{gid}/sections", headers=api.auth(event["member"])).json()[
        "sections"
    ]
    assert [(s["name"], s["description"], s["image_count"]) for s in listed] == [
        ("Ceremony", "Vows and rings", 1)
    ]


# --- one name per concept -------------------------------------------------------------------------
def test_faces_use_the_names_of_get_faces_and_get_features(api: Api, event: dict[str, Any]) -> None:
    # Given a face whose stored attributes are the engine's (emotion scores + dominant label)
    face: Face = event["faces"][0]
    scores = {"happy": 0.9, "neutral": 0.1}
    api.stores.metadata.put_faces(
        [
            dataclasses.replace(
                face,
                thumbnail_key=None,
                attributes={"age": 30, "emotion": scores, "dominant_emotion": "happy"},
            )
        ]
    )
    body = api.client.get(f"/faces/{face.face_id}", headers=api.auth(event["owner"])).json()
    # Then the box is facial_area and emotion is the label with emotion_scores, as in the seed
    assert "bbox" not in body
    assert body["facial_area"] == {"x": 0, "y": 0, "w": 80, "h": 80}
    assert body["attributes"] == {"age": 30, "emotion": "happy", "emotion_scores": scores}


# --- errors that say what is wrong ----------------------------------------------------------------
def test_an_admin_asking_for_an_unknown_user_is_told_so(api: Api, event: dict[str, Any]) -> None:
    for params in ({"user_id": str(uuid.uuid4())}, {"phone_number": new_phone()}):
        as_admin = api.client.get("/get", params=params, headers=api.auth(event["admin"]))
        assert (as_admin.status_code, as_admin.json()["code"]) == (404, "user_not_found")
        as_member = api.client.get("/get", params=params, headers=api.auth(event["member"]))
        assert (as_member.status_code, as_member.json()["code"]) == (403, "access_denied")


def test_an_admin_is_told_which_parameter_names_the_group(api: Api, event: dict[str, Any]) -> None:
    admin = api.auth(event["admin"])
    cases: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
        ("GET", "/faces/duplicates", "group_id", {}),
        ("GET", "/faces/outliers", "group_id", {}),
        ("POST", "/faces/search", "group_ids", {"json": {}}),
    )
    for method, path, param, kwargs in cases:
        answer = api.client.request(method, path, headers=admin, **kwargs)
        assert (answer.status_code, answer.json()["code"]) == (400, "group_required")
        assert answer.json()["field"] == param
        assert f"give {param}" in answer.json()["detail"]


# --- the seed's paths and limits ------------------------------------------------------------------
def _unsigned(value: Any) -> Any:
    """``value`` with every URL's query string (signature, expiry) cut off."""
    if isinstance(value, dict):
        return {k: _unsigned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unsigned(v) for v in value]
    if isinstance(value, str) and value.startswith("http"):
        return value.split("?", 1)[0]
    return value


def test_the_seed_paths_are_aliases(api: Api, event: dict[str, Any]) -> None:
    owner, gid = api.auth(event["owner"]), event["gid"]
    searched = api.client.post("/faces/search", json={"group_ids": [gid]}, headers=owner).json()
    filtered = api.client.post("/faces/filter", json={"group_ids": [gid]}, headers=owner).json()
    # (presigned URLs carry their signing second, so they are compared without the query)
    assert _unsigned(filtered) == _unsigned(searched)
    assert filtered["count"] == 2
    deleted = api.client.post(
        "/faces/batch-delete", json={"face_ids": [event["faces"][1].face_id]}, headers=owner
    )
    assert (deleted.status_code, deleted.json()["deleted_count"]) == (200, 1)
    paths = api.client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/faces/filter"]
    assert "post" in paths["/faces/batch-delete"]


def test_face_reprocess_is_limited_to_the_seeds_20_a_minute(
    api: Api, event: dict[str, Any]
) -> None:
    face_id = event["faces"][0].face_id
    answer = api.client.post(f"/faces/{face_id}/reprocess", headers=api.auth(event["owner"]))
    assert answer.status_code == 202
    assert answer.headers["X-RateLimit-Limit"] == "20"


def test_all_foreign_batches_are_answers_not_refusals(api: Api, event: dict[str, Any]) -> None:
    ids = [f.face_id for f in event["faces"]]
    member = api.auth(event["member"])
    quality = api.client.post("/faces/quality:batch", json={"face_ids": ids}, headers=member)
    assert (quality.status_code, quality.json()["faces"], quality.json()["skipped_face_ids"]) == (
        200,
        [],
        ids,
    )
    deleted = api.client.post("/faces:batch-delete", json={"face_ids": ids}, headers=member)
    assert (deleted.status_code, deleted.json()["deleted_count"]) == (200, 0)
    assert deleted.json()["skipped_face_ids"] == ids
    assert len(api.stores.metadata.get_faces(ids)) == 2
