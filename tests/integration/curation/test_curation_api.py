"""The curation API on faces-dev photos digested and clustered by the real pipelines.

Every endpoint's success path, its permission failures and bad input, and the invariants of
issue 6: merges and moves survive a re-cluster; duplicates never pair faces of one photo;
outliers surface a face deliberately moved into the wrong person; deletes leave no vector or
thumbnail behind. See conftest.py for the event: ``curated`` (shared: only read) and
``own_event`` (a test's own, which it may change).
"""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from findme import wiring
from findme.domain.keys import KeyScheme
from findme.domain.records import Group, GroupRole, JobStatus, Membership, PersonLink
from findme.local import orchestrator as orch
from findme.services import reprocess
from findme.services.auth import Principal
from findme.services.digest import digest_object
from findme.services.policy import Policy

if TYPE_CHECKING:
    from conftest import CuratedEvent

pytestmark = [pytest.mark.integration, pytest.mark.models]


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def error(response: Any, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["detail"], str | list)
    assert isinstance(body["code"], str)
    if code is not None:
        assert body["code"] == code


def person_of(ev: CuratedEvent, label: str) -> str:
    person_id = ev.face(label).person_id
    assert person_id, f"{label}'s face was not clustered into a person"
    return person_id


# --- read paths ---------------------------------------------------------------------------------
def test_clustering_gave_persons_and_the_group_reads(curated: CuratedEvent) -> None:
    ev, gid = curated, curated.group_id
    # Given the clustered event, each identity's photos share a person
    for ident in ("p1", "p3"):
        assert len({person_of(ev, f"{ident}{x}") for x in "abc"}) == 1
    # When the photographer lists persons, Then they come with counts, largest first
    persons = ok(ev.http.get(f"/groups/{gid}/persons", headers=ev.auth("photographer")))["items"]
    counts = [p["face_count"] for p in persons]
    assert counts == sorted(counts, reverse=True)
    assert sum(counts) >= 9
    # And a member sees only the person matched to their selfie, not other attendees
    mine = person_of(ev, "p1a")
    wiring.metadata_store().put_person_link(
        PersonLink(gid, mine, ev.users["member"].user_id, 0.7, "centroid")
    )
    seen = ok(ev.http.get(f"/groups/{gid}/persons", headers=ev.auth("member")))["items"]
    assert [p["person_id"] for p in seen] == [mine]
    own_face = ev.face("p1a").face_id
    assert ev.http.get(f"/faces/{own_face}/thumbnail", headers=ev.auth("member")).status_code == 200
    # another attendee's person is refused, saying so (issue 12: it was 404)
    error(ev.http.get(f"/persons/{person_of(ev, 'p3a')}", headers=ev.auth("member")), 403)
    # And an outsider is refused, an anonymous caller gets 401
    error(ev.http.get(f"/groups/{gid}/persons", headers=ev.auth("outsider")), 403)
    error(ev.http.get(f"/groups/{gid}/persons"), 401)
    # And person details list faces, image ids and the cover face
    pid = person_of(ev, "p3a")
    details = ok(ev.http.get(f"/persons/{pid}", headers=ev.auth("photographer")))
    assert {ev.image_id_of[f"p3{x}"] for x in "abc"} <= set(details["image_ids"])
    assert details["cover_face"]["face_id"] in {f["face_id"] for f in details["faces"]}
    images = ok(ev.http.get(f"/persons/{pid}/images", headers=ev.auth("owner")))["items"]
    assert {i["image_id"] for i in images} == set(details["image_ids"])


def test_face_crop_and_quality_review(curated: CuratedEvent) -> None:
    ev, gid = curated, curated.group_id
    face = ev.face("p1a")
    crop = ev.http.get(f"/faces/{face.face_id}/thumbnail", headers=ev.auth("photographer"))
    assert crop.status_code == 200
    assert crop.headers["content-type"] == "image/jpeg"
    assert crop.content[:2] == b"\xff\xd8"
    error(ev.http.get(f"/faces/{face.face_id}/thumbnail", headers=ev.auth("outsider")), 403)
    q = ok(ev.http.get(f"/faces/{face.face_id}/quality", headers=ev.auth("owner")))
    expected = 0.4 * q["blur_score"] + 0.4 * q["brightness_score"] + 0.2 * q["confidence"]
    assert q["overall_quality"] == pytest.approx(expected, abs=1e-3)
    grade = next(
        (
            g
            for g, t in (("A", 0.85), ("B", 0.7), ("C", 0.55), ("D", 0.4))
            if q["overall_quality"] >= t
        ),
        "F",
    )
    assert q["quality_grade"] == grade
    assert set(q["issues"]) <= {
        "Image is blurry",
        "Poor lighting/exposure",
        "Overexposed",
        "Low detection confidence",
    }
    assert q["thumbnail_url"]
    error(ev.http.get(f"/faces/{face.face_id}/quality", headers=ev.auth("member")), 403)
    ids = [ev.face(label).face_id for label in ("p1a", "p2a", "couple")]
    normal = ok(
        ev.http.post("/faces/quality:batch", json={"face_ids": ids}, headers=ev.auth("owner"))
    )
    strict = ok(
        ev.http.post(
            "/faces/quality:batch",
            json={"face_ids": ids, "strict_mode": True},
            headers=ev.auth("owner"),
        )
    )
    assert [f["face_id"] for f in strict["faces"]] == ids
    for n, s in zip(normal["faces"], strict["faces"], strict=True):
        assert set(n["issues"]) <= set(s["issues"])  # strict thresholds only add issues
    error(
        ev.http.post("/faces/quality:batch", json={"face_ids": []}, headers=ev.auth("owner")), 422
    )
    # an outsider's batch is answered with every face skipped (issue 12: it was 403)
    foreign = ok(
        ev.http.post("/faces/quality:batch", json={"face_ids": ids}, headers=ev.auth("outsider"))
    )
    assert (foreign["faces"], foreign["skipped_face_ids"]) == ([], ids)
    low = ok(
        ev.http.get(
            f"/groups/{gid}/faces/low-quality",
            params={"min_overall_quality": 0.99, "limit": 5},
            headers=ev.auth("owner"),
        )
    )["faces"]
    assert 1 <= len(low) <= 5
    assert [f["overall_quality"] for f in low] == sorted(f["overall_quality"] for f in low)
    error(
        ev.http.get(
            f"/groups/{gid}/faces/low-quality",
            params={"min_overall_quality": 2},
            headers=ev.auth("owner"),
        ),
        422,
    )


def test_advanced_filter(curated: CuratedEvent) -> None:
    ev, gid = curated, curated.group_id
    body = {
        "group_ids": [gid],
        "min_confidence": 0.0,
        "max_confidence": 1.0,
        "has_thumbnail": True,
        "created_after": "2000-01-01T00:00:00Z",
        "limit": 1000,
    }
    faces = ok(ev.http.post("/faces/search", json=body, headers=ev.auth("photographer")))["faces"]
    assert len(faces) >= 14
    assert {f["group_id"] for f in faces} == {gid}
    pid = person_of(ev, "p3a")
    mine = ok(ev.http.post("/faces/search", json={"person_ids": [pid]}, headers=ev.auth("owner")))[
        "faces"
    ]
    assert {f["person_id"] for f in mine} == {pid}
    sharp = ok(
        ev.http.post(
            "/faces/search",
            json={"group_ids": [gid], "min_blur_score": 0.9},
            headers=ev.auth("owner"),
        )
    )["faces"]
    assert all(f["blur_score"] >= 0.9 for f in sharp)
    error(
        ev.http.post(
            "/faces/search", json={"created_before": "31/12/2026"}, headers=ev.auth("owner")
        ),
        400,
        "invalid_date",
    )
    error(ev.http.post("/faces/search", json={"limit": 0}, headers=ev.auth("owner")), 422)
    error(ev.http.post("/faces/search", json={"group_ids": [gid]}, headers=ev.auth("member")), 403)


def test_duplicates_never_pair_faces_of_one_photo(curated: CuratedEvent) -> None:
    ev, gid = curated, curated.group_id
    params = {"group_id": gid, "threshold": 0.95, "limit": 200}
    first = ok(ev.http.get("/faces/duplicates", params=params, headers=ev.auth("owner")))
    pairs = first["pairs"]
    # Then the re-uploaded photo pairs with its original, similarity ~1, with thumbnails
    copy = {ev.face("p2b").face_id, ev.face("p2b_copy").face_id}
    match = [p for p in pairs if {p["face_id_1"], p["face_id_2"]} == copy]
    assert len(match) == 1
    assert match[0]["similarity_score"] > 0.99
    assert match[0]["thumbnail_url_1"]
    assert match[0]["thumbnail_url_2"]
    # And no pair is two faces of one photo — not even the identical twins of twins.jpg
    assert all(p["image_id_1"] != p["image_id_2"] for p in pairs)
    twins = {f.face_id for f in ev.faces("twins")}
    assert len(twins) == 2
    assert not any({p["face_id_1"], p["face_id_2"]} == twins for p in pairs)
    # And the same query within 10 minutes is served from the cache
    again = ok(ev.http.get("/faces/duplicates", params=params, headers=ev.auth("owner")))
    assert again["cached"] is True
    assert again["computed_at"] == first["computed_at"]
    error(
        ev.http.get(
            "/faces/duplicates", params={**params, "threshold": 0.79}, headers=ev.auth("owner")
        ),
        422,
    )
    error(
        ev.http.get("/faces/duplicates", params={**params, "limit": 201}, headers=ev.auth("owner")),
        422,
    )
    error(ev.http.get("/faces/duplicates", params=params, headers=ev.auth("member")), 403)


def test_outliers_surface_a_face_moved_into_the_wrong_person(own_event: CuratedEvent) -> None:
    ev = own_event
    target = person_of(ev, "p1a")
    intruder = ev.face("p3a")
    # Given a person02/03 face deliberately moved into person01's person
    moved = ok(
        ev.http.post(
            f"/faces/{intruder.face_id}/move", json={"person_id": target}, headers=ev.auth("owner")
        )
    )
    assert moved["face"]["is_manual_assignment"] is True
    # When outliers of that person are listed
    out = ok(
        ev.http.get(
            "/faces/outliers",
            params={"person_id": target, "threshold": 0.6},
            headers=ev.auth("photographer"),
        )
    )["outliers"]
    # Then the intruder comes first (lowest mean similarity), below the threshold
    assert out[0]["face_id"] == intruder.face_id
    assert out[0]["avg_similarity_to_cluster"] < 0.6
    assert [o["avg_similarity_to_cluster"] for o in out] == sorted(
        o["avg_similarity_to_cluster"] for o in out
    )
    group_wide = ok(
        ev.http.get("/faces/outliers", params={"group_id": ev.group_id}, headers=ev.auth("owner"))
    )
    assert intruder.face_id in {o["face_id"] for o in group_wide["outliers"]}
    error(ev.http.get("/faces/outliers", params={"threshold": 0.2}, headers=ev.auth("owner")), 422)
    error(
        ev.http.get("/faces/outliers", params={"person_id": target}, headers=ev.auth("member")), 403
    )


def test_merges_and_moves_survive_a_recluster(own_event: CuratedEvent) -> None:
    ev, gid = own_event, own_event.group_id
    # Given person02's person merged into person03's (a deliberate curator decision)
    keep, gone = person_of(ev, "p3b"), person_of(ev, "p2a")
    merged = ok(
        ev.http.post(
            f"/persons/{keep}/merge",
            json={"source_person_ids": [gone]},
            headers=ev.auth("owner"),
        )
    )
    assert gone in merged["merged_person_ids"]
    merged_faces = [ev.face(label).face_id for label in ("p2a", "p2c")]
    # And person03's third photo moved to a new person
    solo = ok(
        ev.http.post(
            f"/faces/{ev.face('p3c').face_id}/move",
            json={"new_person_name": "Solo"},
            headers=ev.auth("owner"),
        )
    )["person"]
    # And renames/hides recorded
    ok(ev.http.patch(f"/persons/{keep}", json={"name": "Merged"}, headers=ev.auth("owner")))
    error(ev.http.patch(f"/persons/{keep}", json={"name": "x"}, headers=ev.auth("member")), 403)
    # When the group is re-clustered through the API (a job on the cluster workflow)
    accepted = ok(
        ev.http.post(
            f"/groups/{gid}/recluster", json={"preserve_manual": True}, headers=ev.auth("owner")
        ),
        202,
    )
    job = ev.wait_job(accepted["job_id"])
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.result["manual_assignments_preserved"] >= 3
    # Then the merge and the move hold, names too
    metadata = wiring.metadata_store()
    assert {f.person_id for f in metadata.get_faces(merged_faces)} == {keep}
    assert metadata.get_face(ev.face("p3c").face_id).person_id == solo["person_id"]
    assert metadata.get_person(keep).name == "Merged"
    assert metadata.get_person(solo["person_id"]).name == "Solo"
    error(ev.http.post(f"/groups/{gid}/recluster", json={}, headers=ev.auth("member")), 403)


def test_reprocess_keeps_manual_placements(own_event: CuratedEvent) -> None:
    ev = own_event
    face = ev.face("p1c")
    new_person = ok(
        ev.http.post(
            f"/faces/{face.face_id}/move",
            json={"new_person_name": "Kept"},
            headers=ev.auth("owner"),
        )
    )["person"]["person_id"]
    # When the face is reprocessed (its whole photo, as a job through the curation worker)
    accepted = ok(
        ev.http.post(f"/faces/{face.face_id}/reprocess", headers=ev.auth("photographer")), 202
    )
    assert accepted["status_url"] == f"/jobs/{accepted['job_id']}"
    job = ev.wait_job(accepted["job_id"], timeout_s=600)
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.result["manual_kept"] == 1
    status = ok(ev.http.get(accepted["status_url"], headers=ev.auth("photographer")))
    assert status["status"] == "succeeded"
    # Then the re-detected face overlapping the old box keeps the manual person
    after = ev.face("p1c")
    assert after.person_id == new_person
    assert after.is_manual_placement
    assert wiring.vector_index().get([after.face_id])[0].person_id == new_person
    # And group reprocessing needs force_all or min_quality, and curators
    error(ev.http.post(f"/groups/{ev.group_id}/reprocess", json={}, headers=ev.auth("owner")), 400)
    error(
        ev.http.post(
            f"/groups/{ev.group_id}/reprocess", json={"min_quality": 1.5}, headers=ev.auth("owner")
        ),
        422,
    )
    error(ev.http.post(f"/faces/{face.face_id}/reprocess", headers=ev.auth("member")), 403)


def test_batch_delete_leaves_no_vector_or_thumbnail(own_event: CuratedEvent) -> None:
    ev = own_event
    faces = ev.faces("couple")
    ids = [f.face_id for f in faces]
    keys = [f.thumbnail_key for f in faces if f.thumbnail_key]
    assert len(keys) == len(ids) == 2
    # An outsider may touch none of them: every one skipped (issue 12: it was 403)
    foreign = ok(
        ev.http.post("/faces:batch-delete", json={"face_ids": ids}, headers=ev.auth("outsider"))
    )
    assert (foreign["deleted_count"], foreign["skipped_face_ids"]) == (0, ids)
    result = ok(
        ev.http.post(
            "/faces:batch-delete",
            json={"face_ids": [*ids, "unknown-face"]},
            headers=ev.auth("owner"),
        )
    )
    assert (result["deleted_count"], result["deleted_thumbnails"]) == (2, 2)
    assert result["face_ids"] == ids
    assert result["skipped_face_ids"] == ["unknown-face"]
    assert wiring.metadata_store().get_faces(ids) == []
    assert wiring.vector_index().get(ids) == []
    assert all(wiring.object_store().head(k) is None for k in keys)
    assert wiring.metadata_store().get_image(ev.image_id_of["couple"]).face_count == 0
    error(
        ev.http.post(
            "/faces:batch-delete", json={"face_ids": ["x"] * 501}, headers=ev.auth("owner")
        ),
        422,
    )


def test_sections_and_image_list(curated: CuratedEvent) -> None:
    ev, gid = curated, curated.group_id
    section = ok(
        ev.http.post(
            f"/groups/{gid}/sections", json={"name": "Arrivals"}, headers=ev.auth("owner")
        ),
        201,
    )
    sid = section["section_id"]
    error(
        ev.http.post(f"/groups/{gid}/sections", json={"name": "x"}, headers=ev.auth("member")), 403
    )
    error(ev.http.post(f"/groups/{gid}/sections", json={"name": ""}, headers=ev.auth("owner")), 422)
    members_view = ok(ev.http.get(f"/groups/{gid}/sections", headers=ev.auth("member")))["sections"]
    assert sid in {s["section_id"] for s in members_view}
    chosen = [ev.image_id_of["p1a"], ev.image_id_of["p3a"]]
    ok(
        ev.http.post(
            f"/groups/{gid}/sections/{sid}/images",
            json={"image_ids": chosen},
            headers=ev.auth("owner"),
        )
    )
    listed = ok(
        ev.http.get(
            f"/groups/{gid}/images",
            params={"section_id": sid, "limit": 1},
            headers=ev.auth("photographer"),
        )
    )
    assert len(listed["items"]) == 1
    rest = ok(
        ev.http.get(
            f"/groups/{gid}/images",
            params={"section_id": sid, "cursor": listed["next_cursor"]},
            headers=ev.auth("photographer"),
        )
    )
    assert {i["image_id"] for i in listed["items"] + rest["items"]} == set(chosen)
    ok(
        ev.http.patch(
            f"/groups/{gid}/sections/{sid}", json={"name": "Welcome"}, headers=ev.auth("owner")
        )
    )
    deleted = ok(ev.http.delete(f"/groups/{gid}/sections/{sid}", headers=ev.auth("owner")))
    assert deleted["images_unassigned"] == 2
    error(
        ev.http.get(
            f"/groups/{gid}/images", params={"taken_after": "soon"}, headers=ev.auth("owner")
        ),
        400,
    )


def test_stats_and_consistency_repair(curated: CuratedEvent) -> None:
    ev, gid = curated, curated.group_id
    stats = ok(ev.http.get(f"/groups/{gid}/stats", headers=ev.auth("owner")))
    assert stats["images"] == len(ev.image_id_of)
    assert stats["faces"] >= 12
    assert 0 < stats["face_coverage_pct"] <= 100
    assert stats["avg_faces_per_image"] == pytest.approx(stats["faces"] / stats["images"], abs=0.01)
    error(ev.http.get(f"/groups/{gid}/stats", headers=ev.auth("member")), 403)
    overall = ok(ev.http.get("/stats", headers=ev.auth("admin")))
    assert gid in overall["per_group"]
    # Given drift: a vector payload naming the wrong person
    face = ev.face("p3b")
    wiring.vector_index().set_person([face.face_id], "not-a-person")
    check = ok(ev.http.get(f"/groups/{gid}/consistency", headers=ev.auth("owner")))
    assert check["person_mismatches"][face.face_id] == [face.person_id, "not-a-person"]
    repaired = ok(ev.http.post(f"/groups/{gid}/consistency", headers=ev.auth("owner")))
    assert repaired["repaired"] is True
    after = ok(ev.http.get(f"/groups/{gid}/consistency", headers=ev.auth("owner")))
    assert after["person_mismatches"] == {}
    assert after["orphan_vectors"] == []
    assert wiring.vector_index().get([face.face_id])[0].person_id == face.person_id
    error(ev.http.post(f"/groups/{gid}/consistency", headers=ev.auth("member")), 403)


def test_users_admin(curated: CuratedEvent) -> None:
    ev = curated
    error(ev.http.get("/admin/users", headers=ev.auth("owner")), 403)
    phone = f"+4477009{uuid.uuid4().int % 10**5:05d}"
    created = ok(
        ev.http.post(
            "/admin/users",
            json={"phone_number": phone, "name": "Crew", "role": "photographer"},
            headers=ev.auth("admin"),
        ),
        201,
    )
    uid = created["user_id"]
    error(
        ev.http.post(
            "/admin/users", json={"phone_number": phone, "name": "Again"}, headers=ev.auth("admin")
        ),
        409,
    )
    error(
        ev.http.post(
            "/admin/users", json={"phone_number": "12", "name": "Bad"}, headers=ev.auth("admin")
        ),
        400,
    )
    assert (
        ok(ev.http.get(f"/admin/users/{uid}", headers=ev.auth("admin")))["role"] == "photographer"
    )
    page = ok(ev.http.get("/admin/users", params={"limit": 2}, headers=ev.auth("admin")))
    assert len(page["items"]) == 2
    ok(ev.http.put(f"/admin/users/{uid}/role", json={"role": "member"}, headers=ev.auth("admin")))
    ok(ev.http.delete(f"/admin/users/{uid}", headers=ev.auth("admin")))
    error(ev.http.get(f"/admin/users/{uid}", headers=ev.auth("admin")), 404)
    assert set(ok(ev.http.get("/admin/settings/quality", headers=ev.auth("admin")))) == {
        "min_face_size",
        "min_confidence",
        "blur_threshold",
    }


class _RecordedEvents(list[dict[str, Any]]):
    """Events sent to the curation worker, in order; ``finished`` is set once a ``finish``
    step has returned (the job is marked ended inside that step, before its files are
    deleted, so a test polling the job alone can look at the files too early)."""

    def __init__(self) -> None:
        super().__init__()
        self.finished = threading.Event()


def _record_map_batches(monkeypatch: pytest.MonkeyPatch, batch_size: int) -> _RecordedEvents:
    """Make the local orchestrator's curation maps use ``batch_size`` (the ASL's is 50/200)
    and record every event it sends the curation worker (the real handler still runs)."""
    events = _RecordedEvents()
    real_invoke, real_settings = orch.invoke, orch.map_settings

    def recording_invoke(function: str, event: dict[str, Any]) -> Any:
        if function != "curation":
            return real_invoke(function, event)
        events.append(event)
        try:
            return real_invoke(function, event)
        finally:
            if event.get("step") == "finish":
                events.finished.set()

    def small_batches(workflow: str, state: str) -> tuple[int, int, float]:
        _, concurrency, tolerated = real_settings(workflow, state)
        return batch_size, concurrency, tolerated

    monkeypatch.setattr(orch, "invoke", recording_invoke)
    monkeypatch.setattr(orch, "map_settings", small_batches)
    return events


def test_group_reprocess_runs_as_a_map_over_an_id_list(
    own_event: CuratedEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    ev = own_event
    events = _record_map_batches(monkeypatch, batch_size=2)
    store = wiring.object_store()
    ids = [ev.image_id_of[label] for label in ("p3a", "p3b", "p3c")]
    # When a reprocess of three photos starts (as the API starts it) on the local stack
    job = reprocess.start_reprocess(
        wiring.metadata_store(),
        ev.orchestrator,
        Policy(wiring.metadata_store(), Principal.from_user(ev.users["owner"])),
        reprocess.ReprocessSelection(ev.group_id, ids),
        objects=store,
        keys=KeyScheme.from_settings(ev.settings),
    )
    done = ev.wait_job(job.job_id, timeout_s=600)
    # Then the curation worker got the ids in map batches of two, then the finish step
    batches = [e for e in events if "Items" in e]
    assert sorted(len(e["Items"]) for e in batches) == [1, 2]
    assert sorted(i for e in batches for i in e["Items"]) == sorted(ids)
    assert all(e["BatchInput"]["job_id"] == job.job_id for e in batches)
    assert events[-1] == {
        "workflow": "reprocess",
        "job_id": job.job_id,
        "group_id": ev.group_id,
        "step": "finish",
    }
    # And the job sums both batches, and its work files are gone once the finish step returns
    assert done.status is JobStatus.SUCCEEDED, done.error
    assert (done.result["processed"], done.done, done.total) == (3, 3, 3)
    assert events.finished.wait(timeout=60)
    assert list(store.list(f"jobs/{job.job_id}/")) == []


def test_delete_group_job_leaves_nothing_behind(
    curated: CuratedEvent, faces_dev: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ev = curated
    events = _record_map_batches(monkeypatch, batch_size=2)
    metadata, store, vectors = wiring.metadata_store(), wiring.object_store(), wiring.vector_index()
    keys = KeyScheme.from_settings(ev.settings)
    # Given a second group of the owner with three digested photos
    group = Group(group_id=str(uuid.uuid4()), name="Doomed", owner_id=ev.users["owner"].user_id)
    metadata.put_group(group)
    metadata.put_membership(Membership(group.group_id, ev.users["owner"].user_id, GroupRole.OWNER))
    metadata.put_membership(
        Membership(group.group_id, ev.users["photographer"].user_id, GroupRole.PHOTOGRAPHER)
    )
    for name in ("img12.jpg", "img2.jpg", "img3.jpg"):
        key = keys.original(group.group_id, str(uuid.uuid4()), ".jpg")
        store.put(key, (faces_dev / "images" / name).read_bytes(), "image/jpeg")
        assert digest_object(key, ev.deps, force=True).status == "processed"
    assert vectors.count(group.group_id) >= 3
    # A photographer may not delete the group; the owner may
    error(ev.http.delete(f"/groups/{group.group_id}", headers=ev.auth("photographer")), 403)
    accepted = ok(ev.http.delete(f"/groups/{group.group_id}", headers=ev.auth("owner")), 202)
    job = ev.wait_job(accepted["job_id"])
    assert job.status is JobStatus.SUCCEEDED, job.error
    # Then the worker planned, deleted the photos in map batches, and finished
    assert [e.get("step", "batch") for e in events] == ["plan", "batch", "batch", "finish"]
    assert (job.done, job.total, job.result["images"]) == (3, 3, 3)
    assert events.finished.wait(timeout=60)
    # And no vector, object, face or image is left, nor the job's work files
    assert vectors.count(group.group_id) == 0
    assert list(store.list(keys.group_originals(group.group_id))) == []
    assert list(store.list(keys.group_faces(group.group_id))) == []
    assert list(metadata.list_faces_of_group(group.group_id)) == []
    assert list(store.list(keys.job_files(job.job_id))) == []
    error(ev.http.get(f"/groups/{group.group_id}/persons", headers=ev.auth("owner")), 404)
