"""The curation routes through the real FastAPI app (auth, error shape, limits, status codes).

Stores are the moto/Qdrant :memory: world; the orchestrator records workflow starts.
"""

from __future__ import annotations

from typing import Any

import pytest
from fakes import RouteClient, World
from findme.domain.records import JobStatus, Role


@pytest.fixture(scope="module")
def client(world: World) -> RouteClient:
    return RouteClient(world)


@pytest.fixture
def event(world: World) -> dict[str, Any]:
    owner, member = world.user(), world.user()
    group = world.group(owner, member=member)
    alice, bob = world.identity(), world.identity()
    fa = [world.photo(group, [world.near(alice)])[0] for _ in range(3)]
    fb = [world.photo(group, [world.near(bob)], quality=[(0.2, 0.3, 0.6)])[0] for _ in range(2)]
    return {
        "owner": owner,
        "member": member,
        "group": group,
        "fa": fa,
        "fb": fb,
        "a": world.person(group, fa, "Alice"),
        "b": world.person(group, fb),
    }


def _error(response: Any, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"detail", "code"}
    if code:
        assert body["code"] == code


def test_persons_routes(client: RouteClient, event: dict[str, Any]) -> None:
    gid, owner, member = event["group"].group_id, event["owner"], event["member"]
    r = client.http.get(f"/groups/{gid}/persons", headers=client.auth(owner))
    assert r.status_code == 200
    assert [p["name"] for p in r.json()["items"]] == ["Alice", None]
    # a member sees no other attendee's person
    mine = client.http.get(f"/groups/{gid}/persons", headers=client.auth(member))
    assert mine.json()["items"] == []
    assert all(
        h in r.headers for h in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
    )
    assert r.headers["X-RateLimit-Limit"] == "120"
    _error(client.http.get(f"/groups/{gid}/persons"), 401, "missing_token")
    _error(
        client.http.get(
            f"/groups/{gid}/persons", params={"sort": "age"}, headers=client.auth(owner)
        ),
        422,
    )
    pid = event["a"].person_id
    details = client.http.get(f"/persons/{pid}", headers=client.auth(owner)).json()
    assert len(details["faces"]) == 3
    assert details["cover_face"]["face_id"] == details["person"]["cover_face_id"]
    _error(
        client.http.patch(f"/persons/{pid}", json={"name": "X"}, headers=client.auth(member)), 403
    )
    renamed = client.http.patch(
        f"/persons/{pid}", json={"name": "Alicia", "hidden": True}, headers=client.auth(owner)
    )
    assert (renamed.json()["name"], renamed.json()["hidden"]) == ("Alicia", True)
    merged = client.http.post(
        f"/persons/{pid}/merge",
        json={"source_person_ids": [event["b"].person_id]},
        headers=client.auth(owner),
    )
    assert merged.status_code == 200
    assert merged.json()["person"]["face_count"] == 5
    _error(
        client.http.post(
            f"/persons/{pid}/merge", json={"source_person_ids": []}, headers=client.auth(owner)
        ),
        422,
    )
    images = client.http.get(
        f"/persons/{pid}/images", params={"limit": 2}, headers=client.auth(owner)
    ).json()
    assert len(images["items"]) == 2
    assert images["next_cursor"]
    _error(
        client.http.get(
            f"/persons/{pid}/images", params={"cursor": "%%%"}, headers=client.auth(owner)
        ),
        400,
    )
    recluster = client.http.post(f"/groups/{gid}/recluster", json={}, headers=client.auth(owner))
    assert recluster.status_code == 202
    job = recluster.json()
    assert job["status_url"] == f"/jobs/{job['job_id']}"
    assert client.jobs.started[-1] == (
        "cluster",
        {"group_id": gid, "preserve_manual": True, "job_id": job["job_id"]},
    )
    _error(client.http.post(f"/groups/{gid}/recluster", json={}, headers=client.auth(member)), 403)


def test_face_routes(client: RouteClient, world: World, event: dict[str, Any]) -> None:
    owner, member = event["owner"], event["member"]
    face = event["fa"][0]
    assert client.http.get(f"/faces/{face.face_id}", headers=client.auth(owner)).json()["person_id"]
    _error(client.http.get(f"/faces/{face.face_id}", headers=client.auth(member)), 403)
    _error(client.http.get("/faces/nope", headers=client.auth(owner)), 404, "not_found")
    # a member asking for another attendee's face: refused, saying why (issue 12: it was
    # 404 "Person not found")
    other = client.http.get(f"/faces/{face.face_id}/thumbnail", headers=client.auth(member))
    _error(other, 403, "access_denied")
    assert "not yours" in other.json()["detail"]
    thumb = client.http.get(f"/faces/{face.face_id}/thumbnail", headers=client.auth(owner))
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    assert thumb.content == world.objects.get(face.thumbnail_key or "")
    moved = client.http.post(
        f"/faces/{face.face_id}/move", json={"new_person_name": "Solo"}, headers=client.auth(owner)
    )
    assert moved.status_code == 200
    assert moved.json()["created_person"] is True
    assert moved.json()["face"]["is_manual_assignment"] is True
    _error(
        client.http.post(
            f"/faces/{face.face_id}/move",
            json={"person_id": "p", "new_person_name": "x"},
            headers=client.auth(owner),
        ),
        422,
    )
    q = client.http.get(
        f"/faces/{event['fb'][0].face_id}/quality", headers=client.auth(owner)
    ).json()
    assert q["quality_grade"] == "F"
    assert q["issues"] == ["Image is blurry", "Poor lighting/exposure", "Low detection confidence"]
    assert q["thumbnail_url"].startswith("https://")
    batch = client.http.post(
        "/faces/quality:batch",
        json={"face_ids": [face.face_id], "strict_mode": True},
        headers=client.auth(owner),
    )
    assert batch.json()["strict_mode"] is True
    _error(
        client.http.post(
            "/faces/quality:batch",
            json={"face_ids": [str(i) for i in range(101)]},
            headers=client.auth(owner),
        ),
        422,
    )
    gid = event["group"].group_id
    low = client.http.get(f"/groups/{gid}/faces/low-quality", headers=client.auth(owner)).json()
    assert {f["face_id"] for f in low["faces"]} == {f.face_id for f in event["fb"]}
    _error(
        client.http.get(
            f"/groups/{gid}/faces/low-quality", params={"limit": 501}, headers=client.auth(owner)
        ),
        422,
    )


def test_review_routes(client: RouteClient, event: dict[str, Any]) -> None:
    owner = event["owner"]
    gid = event["group"].group_id
    found = client.http.post(
        "/faces/search",
        json={"group_ids": [gid], "unlabeled_only": True},
        headers=client.auth(owner),
    )
    assert found.json() == {"faces": [], "count": 0}
    _error(
        client.http.post(
            "/faces/search", json={"created_after": "not-a-date"}, headers=client.auth(owner)
        ),
        400,
        "invalid_date",
    )
    _error(client.http.post("/faces/search", json={"limit": 1001}, headers=client.auth(owner)), 422)
    dup = client.http.get(
        "/faces/duplicates", params={"group_id": gid, "threshold": 0.8}, headers=client.auth(owner)
    )
    assert dup.status_code == 200
    assert all(p["image_id_1"] != p["image_id_2"] for p in dup.json()["pairs"])
    _error(
        client.http.get("/faces/duplicates", params={"threshold": 0.5}, headers=client.auth(owner)),
        422,
    )
    out = client.http.get("/faces/outliers", params={"group_id": gid}, headers=client.auth(owner))
    assert out.status_code == 200
    _error(
        client.http.get("/faces/outliers", params={"threshold": 0.85}, headers=client.auth(owner)),
        422,
    )
    _error(
        client.http.get(
            "/faces/outliers", params={"group_id": gid}, headers=client.auth(event["member"])
        ),
        403,
    )


def test_jobs_deletes_sections_stats_admin_routes(
    client: RouteClient, world: World, event: dict[str, Any]
) -> None:
    owner, member = event["owner"], event["member"]
    gid = event["group"].group_id
    r = client.http.post(f"/faces/{event['fb'][0].face_id}/reprocess", headers=client.auth(owner))
    assert r.status_code == 202
    assert r.json()["image_ids"] == [event["fb"][0].image_id]
    assert client.jobs.started[-1][0] == "reprocess"
    g = client.http.post(
        f"/groups/{gid}/reprocess", json={"min_quality": 0.5}, headers=client.auth(owner)
    )
    assert g.status_code == 202
    assert sorted(g.json()["image_ids"]) == sorted(f.image_id for f in event["fb"])
    _error(client.http.post(f"/groups/{gid}/reprocess", json={}, headers=client.auth(owner)), 400)
    deleted = client.http.post(
        "/faces:batch-delete",
        json={"face_ids": [event["fa"][2].face_id, "x"]},
        headers=client.auth(owner),
    ).json()
    assert (
        deleted["deleted_count"],
        deleted["deleted_thumbnails"],
        deleted["skipped_face_ids"],
    ) == (1, 1, ["x"])
    _error(
        client.http.post("/faces:batch-delete", json={"face_ids": []}, headers=client.auth(owner)),
        422,
    )
    section = client.http.post(
        f"/groups/{gid}/sections", json={"name": "Dinner"}, headers=client.auth(owner)
    )
    assert section.status_code == 201
    sid = section.json()["section_id"]
    _error(
        client.http.post(
            f"/groups/{gid}/sections", json={"name": "dinner"}, headers=client.auth(owner)
        ),
        409,
    )
    client.http.post(
        f"/groups/{gid}/sections/{sid}/images",
        json={"image_ids": [event["fa"][0].image_id]},
        headers=client.auth(owner),
    )
    listed = client.http.get(
        f"/groups/{gid}/images", params={"section_id": sid}, headers=client.auth(owner)
    ).json()
    assert [i["image_id"] for i in listed["items"]] == [event["fa"][0].image_id]
    _error(
        client.http.get(
            f"/groups/{gid}/images",
            params={"taken_after": "13/13/2026"},
            headers=client.auth(owner),
        ),
        400,
    )
    stats = client.http.get(f"/groups/{gid}/stats", headers=client.auth(owner)).json()
    assert (stats["faces"], stats["images"]) == (4, 5)
    _error(client.http.get(f"/groups/{gid}/stats", headers=client.auth(member)), 403)
    assert client.http.get("/stats", headers=client.auth(owner)).json()["groups"] == 1
    check = client.http.get(f"/groups/{gid}/consistency", headers=client.auth(owner)).json()
    assert check["consistent"] is True
    assert (
        client.http.post(f"/groups/{gid}/consistency", headers=client.auth(owner)).json()[
            "repaired"
        ]
        is True
    )
    _error(client.http.delete(f"/groups/{gid}", headers=client.auth(member)), 403)
    gone = client.http.delete(f"/groups/{gid}", headers=client.auth(owner))
    assert gone.status_code == 202
    assert world.metadata.get_job(gone.json()["job_id"]).status is JobStatus.PENDING
    # admin
    admin = world.user(Role.ADMIN)
    _error(client.http.get("/admin/users", headers=client.auth(owner)), 403)
    created = client.http.post(
        "/admin/users",
        json={"phone_number": "+447700900123", "name": "Sam"},
        headers=client.auth(admin),
    )
    assert created.status_code == 201
    uid = created.json()["user_id"]
    _error(
        client.http.post(
            "/admin/users",
            json={"phone_number": "+447700900123", "name": "Sam"},
            headers=client.auth(admin),
        ),
        409,
    )
    assert client.http.get(f"/admin/users/{uid}", headers=client.auth(admin)).json()["groups"] == []
    assert (
        client.http.put(
            f"/admin/users/{uid}/role", json={"role": "photographer"}, headers=client.auth(admin)
        ).json()["role"]
        == "photographer"
    )
    assert (
        len(
            client.http.get("/admin/users", params={"limit": 1}, headers=client.auth(admin)).json()[
                "items"
            ]
        )
        == 1
    )
    assert client.http.delete(f"/admin/users/{uid}", headers=client.auth(admin)).status_code == 200
    _error(client.http.get(f"/admin/users/{uid}", headers=client.auth(admin)), 404)
    thresholds = client.http.get("/admin/settings/quality", headers=client.auth(admin)).json()
    assert set(thresholds) == {"min_face_size", "min_confidence", "blur_threshold"}


def test_openapi_documents_the_curation_paths(client: RouteClient) -> None:
    paths = client.http.get("/openapi.json").json()["paths"]
    for path in (
        "/groups/{group_id}/persons",
        "/persons/{person_id}/merge",
        "/faces/{face_id}/move",
        "/faces:batch-delete",
        "/faces/duplicates",
        "/faces/outliers",
        "/faces/search",
        "/faces/quality:batch",
        "/groups/{group_id}/consistency",
        "/admin/users",
        "/stats",
    ):
        assert path in paths
