"""Groups and roles, uploads (multipart, presigned, limits), GET /get visibility, images,
downloads and jobs — through the real app on moto and Qdrant :memory: with a fake engine."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fakes import Api, World, build_api, detected, jpeg
from findme.domain.records import GroupRole, Membership
from findme.errors import DependencyError
from findme.web import deps
from PIL import Image as PILImage


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (width, height)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def event(api: Api) -> dict[str, Any]:
    """An owner, a photographer, a member and an outsider around one group."""
    owner_id, owner, _ = api.register("Owner")
    photo_id, photographer, _ = api.register("Photographer")
    member_id, member, member_vec = api.register("Member")
    _, outsider, _ = api.register("Outsider")
    group = api.group(owner)
    api.join(member, group)
    api.join(photographer, group)
    api.stores.metadata.put_membership(
        Membership(group["group_id"], photo_id, GroupRole.PHOTOGRAPHER)
    )
    return {
        "group": group,
        "gid": group["group_id"],
        "owner": owner,
        "owner_id": owner_id,
        "photographer": photographer,
        "member": member,
        "member_id": member_id,
        "member_vec": member_vec,
        "outsider": outsider,
    }


def test_group_lifecycle_and_roles(api: Api, event: dict[str, Any]) -> None:
    gid = event["gid"]
    # The owner sees the group with its invite code and counts; members see it too
    detail = api.client.get(f"/groups/{gid}", headers=api.auth(event["owner"])).json()
    assert detail["role"] == "owner"
    assert len(detail["invite_code"]) == 10
    assert detail["image_counts"] == {
        "uploaded": 0,
        "processing": 0,
        "processed": 0,
        "failed": 0,
        "total": 0,
    }
    listed = api.client.get("/groups", headers=api.auth(event["member"])).json()["groups"]
    assert [(g["group_id"], g["role"]) for g in listed] == [(gid, "member")]
    # An outsider is refused (cross-group access), a wrong invite code too
    response = api.client.get(f"/groups/{gid}", headers=api.auth(event["outsider"]))
    assert response.status_code == 403
    assert response.json()["code"] == "access_denied"
    assert (response.json()["need"], response.json()["role"]) == ("read", None)
    response = api.client.post(
        f"/groups/{gid}/join",
        json={"invite_code": "WRONGCODE1"},
        headers=api.auth(event["outsider"]),
    )
    assert response.status_code == 403
    assert response.json()["code"] == "invalid_invite_code"
    assert api.client.get("/groups/nope", headers=api.auth(event["owner"])).status_code == 404


def test_multipart_upload_stores_item_then_object(api: Api, event: dict[str, Any]) -> None:
    # Given two photos uploaded by the photographer
    files = [
        ("files", ("a.jpg", jpeg(seed=1), "image/jpeg")),
        ("files", ("b.png", _png(20, 10), "image/png")),
    ]
    response = api.client.post(
        "/upload",
        data={"group_id": event["gid"]},
        files=files,
        headers=api.auth(event["photographer"]),
    )
    # Then 202 with the seed's message, and each photo is in S3 with an "uploaded" item
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["message"] == "Upload complete. Processing has been triggered."
    images = [api.stores.metadata.get_image(i) for i in body["image_ids"]]
    assert [(i.file_name, str(i.status), i.width) for i in images] == [
        ("a.jpg", "uploaded", 64),
        ("b.png", "uploaded", 20),
    ]
    assert all(api.stores.objects.head(i.s3_key) is not None for i in images)
    assert images[1].s3_key == f"originals/{event['gid']}/{images[1].image_id}.png"
    counts = api.client.get(f"/groups/{event['gid']}", headers=api.auth(event["owner"])).json()
    assert counts["image_counts"]["uploaded"] == 2


def test_upload_limits_and_roles(stores: World) -> None:
    api = build_api(stores, max_upload_files=2, max_upload_bytes=20_000, max_image_pixels=5_000)
    _, owner, _ = api.register()
    _, member, _ = api.register()
    group = api.group(owner)
    api.join(member, group)
    gid = group["group_id"]

    def upload(token: str, *files: tuple[str, bytes, str]) -> Any:
        return api.client.post(
            "/upload",
            data={"group_id": gid},
            files=[("files", f) for f in files],
            headers=api.auth(token),
        )

    ok = ("a.jpg", jpeg(seed=2), "image/jpeg")
    # count, size, type, pixels; a member may not upload
    assert upload(owner, ok, ok, ok).status_code == 422
    assert upload(owner, ("big.jpg", jpeg(400, 400, seed=3), "image/jpeg")).status_code == 413
    assert upload(owner, ("doc.pdf", b"%PDF-1.5 hello", "application/pdf")).status_code == 415
    assert upload(owner, ("wide.png", _png(100, 100), "image/png")).json()["code"] == (
        "image_pixels_exceeded"
    )
    assert upload(member, ok).status_code == 403
    no_files = api.client.post(
        "/upload", data={"group_id": gid}, files=[("other", ok)], headers=api.auth(owner)
    )
    assert no_files.status_code == 400
    assert no_files.json()["code"] == "no_files"
    assert (
        api.client.post("/upload", data={"group_id": gid}, headers=api.auth(owner)).status_code
        == 415
    )
    # One bad file refuses the whole request: nothing is written
    before = api.client.get(f"/groups/{gid}", headers=api.auth(owner)).json()["image_counts"][
        "total"
    ]
    assert upload(owner, ok, ("doc.pdf", b"%PDF", "application/pdf")).status_code == 415
    after = api.client.get(f"/groups/{gid}", headers=api.auth(owner)).json()["image_counts"][
        "total"
    ]
    assert before == after == 0
    # Neither form nor JSON -> 415; JSON with a non-https link -> 400
    response = api.client.post(
        "/upload", content=b"x", headers={**api.auth(owner), "content-type": "text/plain"}
    )
    assert response.status_code == 415
    response = api.client.post(
        "/upload",
        json={"drive_url": "http://example.com/a.jpg", "group_id": gid},
        headers=api.auth(owner),
    )
    assert response.status_code == 400
    assert response.json()["code"] == "https_required"


def test_presigned_uploads(api: Api, event: dict[str, Any]) -> None:
    gid = event["gid"]
    body = {"files": [{"file_name": "IMG_1.JPG", "content_type": "image/jpeg", "size_bytes": 1000}]}
    response = api.client.post(
        f"/groups/{gid}/uploads", json=body, headers=api.auth(event["owner"])
    )
    assert response.status_code == 200, response.text
    upload = response.json()["uploads"][0]
    assert upload["key"] == f"originals/{gid}/{upload['image_id']}.jpg"
    assert upload["fields"]["key"] == upload["key"]
    assert upload["fields"]["Content-Type"] == "image/jpeg"
    assert upload["fields"]["x-amz-meta-file-name"] == "IMG_1.JPG"
    # Refusals: type 415, declared size 413, member 403
    bad_type = {"files": [{"file_name": "a.pdf", "content_type": "application/pdf"}]}
    too_big = {"files": [{"file_name": "a.jpg", "content_type": "image/jpeg", "size_bytes": 10**9}]}
    assert (
        api.client.post(
            f"/groups/{gid}/uploads", json=bad_type, headers=api.auth(event["owner"])
        ).status_code
        == 415
    )
    assert (
        api.client.post(
            f"/groups/{gid}/uploads", json=too_big, headers=api.auth(event["owner"])
        ).status_code
        == 413
    )
    assert (
        api.client.post(
            f"/groups/{gid}/uploads", json=body, headers=api.auth(event["member"])
        ).status_code
        == 403
    )


def test_get_returns_my_photos_and_common_ones(api: Api, event: dict[str, Any]) -> None:
    s = api.stores
    gid, me = event["gid"], event["member_vec"]
    other = s.identity()
    # Given photos of the member (one only via the member's person), others, and a common photo
    person = s.person(gid).person_id
    direct = s.image(gid, [s.near(me)], [person])
    via_person = s.image(gid, [other], [person])  # the selfie does not match this face
    group_shot = s.image(gid, [other, s.near(me)])
    strangers = s.image(gid, [s.identity()])
    common = s.image(gid, [s.identity()])
    response = api.client.post(
        "/update-group",
        json={"group_id": gid, "common_photo_ids": [common.image_id]},
        headers=api.auth(event["owner"]),
    )
    assert response.json() == {"message": "Group updated successfully."}
    # When the member asks for their photos
    body = api.client.get("/get", headers=api.auth(event["member"])).json()
    # Then personal = their matches (with similarity) + the person's other photo; common apart
    personal = {p["image_id"]: p for p in body["personal_images"]}
    assert set(personal) == {direct.image_id, via_person.image_id, group_shot.image_id}
    assert strangers.image_id not in personal
    assert all(p["url"].startswith("https://") and p["expires"] for p in personal.values())
    assert personal[direct.image_id]["similarity_score"] > 0.4
    assert [c["image_id"] for c in body["common_images"]] == [common.image_id]
    # A member asking for someone else is 403; the owner may ask for the member
    response = api.client.get(
        f"/get?user_id={event['owner_id']}", headers=api.auth(event["member"])
    )
    assert response.status_code == 403
    assert response.json()["code"] == "access_denied"
    as_owner = api.client.get(
        f"/get?user_id={event['member_id']}", headers=api.auth(event["owner"])
    )
    assert {p["image_id"] for p in as_owner.json()["personal_images"]} == set(personal)
    # The owner asking for the whole group gets every processed photo
    whole = api.client.get(f"/get?group_id={gid}", headers=api.auth(event["owner"])).json()
    assert len(whole["personal_images"]) == 4
    assert len(whole["common_images"]) == 1
    # An outsider sees nothing of this group
    assert (
        api.client.get("/get", headers=api.auth(event["outsider"])).json()["personal_images"] == []
    )
    assert (
        api.client.get(f"/get?group_id={gid}", headers=api.auth(event["outsider"])).status_code
        == 403
    )


def test_download_only_visible_images(api: Api, event: dict[str, Any]) -> None:
    s = api.stores
    gid = event["gid"]
    mine = s.image(gid, [s.near(event["member_vec"])])
    theirs = s.image(gid, [s.identity()])
    # The member may download their photo: 202 pending, and the zip workflow starts
    response = api.client.post(
        "/download", json={"image_ids": [mine.image_id]}, headers=api.auth(event["member"])
    )
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    job_id = response.json()["job_id"]
    assert api.orchestrator.started[-1] == ("zip", {"job_id": job_id})
    status = api.client.get(f"/download/{job_id}", headers=api.auth(event["member"])).json()
    assert status["status"] == "pending"
    assert status["url"] is None
    # ...but not someone else's (403), nor unknown ids (404); others cannot read the job
    response = api.client.post(
        "/download", json={"image_ids": [theirs.image_id]}, headers=api.auth(event["member"])
    )
    assert response.status_code == 403
    assert (response.json()["code"], response.json()["image_ids"]) == (
        "access_denied",
        [theirs.image_id],
    )
    assert (
        api.client.post(
            "/download", json={"image_ids": ["nope"]}, headers=api.auth(event["member"])
        ).status_code
        == 404
    )
    assert (
        api.client.get(f"/download/{job_id}", headers=api.auth(event["outsider"])).status_code
        == 404
    )
    # The photographer may download anything of the group
    response = api.client.post(
        "/download",
        json={"image_ids": [mine.image_id, theirs.image_id]},
        headers=api.auth(event["photographer"]),
    )
    assert response.status_code == 202


def test_image_metadata_crud(api: Api, event: dict[str, Any]) -> None:
    s = api.stores
    image = s.image(event["gid"], [s.identity()])
    url = f"/images/{image.image_id}"
    assert api.client.get(url, headers=api.auth(event["member"])).status_code == 403
    got = api.client.get(url, headers=api.auth(event["photographer"])).json()
    assert got["status"] == "processed"
    assert got["url"].startswith("https://")
    updated = api.client.put(
        url,
        json={"tags": ["stage", "stage", " speech "], "description": "Talk", "common": True},
        headers=api.auth(event["owner"]),
    ).json()
    assert updated["tags"] == ["stage", "speech"]
    assert updated["common"] is True
    assert image.image_id in s.metadata.get_group(event["gid"]).common_photo_ids
    bad = api.client.put(url, json={"section_id": "nope"}, headers=api.auth(event["owner"]))
    assert bad.status_code == 422
    assert bad.json()["code"] == "unknown_section"
    # Delete removes object, faces, vectors, the item and the common flag
    faces = s.metadata.list_faces_of_image(image.image_id)
    assert api.client.delete(url, headers=api.auth(event["owner"])).status_code == 200
    assert api.client.get(url, headers=api.auth(event["owner"])).status_code == 404
    assert s.objects.head(image.s3_key) is None
    assert s.vectors.get([f.face_id for f in faces]) == []
    assert image.image_id not in s.metadata.get_group(event["gid"]).common_photo_ids


def test_digest_and_cluster_jobs(api: Api, event: dict[str, Any]) -> None:
    gid = event["gid"]
    body = {"s3_bucket": api.settings.bucket, "s3_prefix": f"originals/{gid}/", "group_id": gid}
    response = api.client.post("/digest", json=body, headers=api.auth(event["owner"]))
    assert response.status_code == 202
    assert response.json()["status"] == "started"
    job_id = response.json()["job_id"]
    assert api.orchestrator.started[-1] == (
        "digest_prefix",
        {"group_id": gid, "prefix": f"originals/{gid}/", "job_id": job_id},
    )
    job = api.client.get(f"/jobs/{job_id}", headers=api.auth(event["owner"])).json()
    assert job["status"] == "pending"
    assert job["job_type"] == "digest"
    # Another group's prefix, another bucket, a member, an outsider reading the job: refused
    other = {**body, "s3_prefix": "originals/other-group/"}
    assert (
        api.client.post("/digest", json=other, headers=api.auth(event["owner"])).json()["code"]
        == "prefix_outside_group"
    )
    assert (
        api.client.post(
            "/digest", json={**body, "s3_bucket": "x"}, headers=api.auth(event["owner"])
        ).status_code
        == 400
    )
    assert (
        api.client.post("/digest", json=body, headers=api.auth(event["member"])).status_code == 403
    )
    assert api.client.get(f"/jobs/{job_id}", headers=api.auth(event["outsider"])).status_code == 404
    # Clustering decides who is who: the owner's (CURATE), not the photographer's
    response = api.client.post(
        "/cluster-faces", json={"group_id": gid}, headers=api.auth(event["photographer"])
    )
    assert (response.status_code, response.json()["need"]) == (403, "curate")
    response = api.client.post(
        "/cluster-faces", json={"group_id": gid}, headers=api.auth(event["owner"])
    )
    assert response.status_code == 202
    assert api.orchestrator.started[-1][0] == "cluster"


def test_search_face_scope(api: Api, event: dict[str, Any]) -> None:
    s = api.stores
    gid = event["gid"]
    stranger = s.identity()
    photo = s.image(gid, [s.near(stranger)])
    probe = api.engine.register(jpeg(seed=4242), [detected(s.near(stranger))])
    files = {"image": ("p.jpg", probe, "image/jpeg")}
    # The photographer finds the stranger; the member may not search for others
    found = api.client.post(
        "/search-face", files=files, headers=api.auth(event["photographer"])
    ).json()
    assert [m["image_id"] for m in found["matches"]] == [photo.image_id]
    assert found["matches"][0]["image_s3_path"] == f"s3://{api.settings.bucket}/{photo.s3_key}"
    as_member = api.client.post(
        "/search-face", files=files, headers=api.auth(event["member"])
    ).json()
    assert as_member["matches"] == []
    # No image -> 400; not a photo -> 415, as on every route taking a photo (docs/errors.md)
    assert api.client.post("/search-face", headers=api.auth(event["owner"])).status_code == 400
    garbage = {"image": ("p.jpg", b"\x00\x01garbage", "image/jpeg")}
    assert (
        api.client.post("/get-faces", files=garbage, headers=api.auth(event["owner"])).status_code
        == 415
    )


def test_failed_upload_leaves_nothing_behind(stores: World) -> None:
    # Given an object store whose second put fails (S3 outage midway through a request)
    api = build_api(stores)
    _, owner, _ = api.register()
    gid = api.group(owner)["group_id"]
    puts: list[str] = []

    class FlakyStore:
        def __getattr__(self, name: str) -> Any:
            return getattr(stores.objects, name)

        def put(self, key: str, *args: Any, **kwargs: Any) -> None:
            puts.append(key)
            if len(puts) == 2:
                raise DependencyError("S3 is down")
            stores.objects.put(key, *args, **kwargs)

    api.client.app.dependency_overrides[deps.object_store] = lambda: FlakyStore()  # type: ignore[attr-defined]
    files = [("files", (f"{i}.jpg", jpeg(seed=40 + i), "image/jpeg")) for i in range(3)]
    # When uploading three photos
    response = api.client.post(
        "/upload", data={"group_id": gid}, files=files, headers=api.auth(owner)
    )
    # Then 503, and neither the first photo's object nor any image item remains
    assert response.status_code == 503
    assert response.json()["code"] == "dependency_unavailable"
    assert stores.objects.head(puts[0]) is None
    counts = api.client.get(f"/groups/{gid}", headers=api.auth(owner)).json()["image_counts"]
    assert counts["total"] == 0


def test_join_by_invite_code_alone(api: Api, event: dict[str, Any]) -> None:
    # Given an invite link's code (typed in lower case, with spaces, as people do)
    code = f"  {event['group']['invite_code'].lower()} "
    # When the outsider joins with the code alone, Then they are a member of that group
    response = api.client.post(
        "/join", json={"invite_code": code}, headers=api.auth(event["outsider"])
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["group_id"], body["group_name"], body["role"]) == (
        event["gid"],
        event["group"]["group_name"],
        "member",
    )
    detail = api.client.get(f"/groups/{event['gid']}", headers=api.auth(event["outsider"]))
    assert detail.status_code == 200
    # And joining again keeps the role (the owner stays owner)
    again = api.client.post("/join", json={"invite_code": code}, headers=api.auth(event["owner"]))
    assert again.json()["role"] == "owner"
    # An unknown code is 403 like a wrong one, and the route needs a token
    response = api.client.post(
        "/join", json={"invite_code": "NOSUCHCODE"}, headers=api.auth(event["outsider"])
    )
    assert (response.status_code, response.json()["code"]) == (403, "invalid_invite_code")
    assert api.client.post("/join", json={"invite_code": code}).status_code == 401


def test_photos_carry_thumbnail_and_preview_urls(api: Api, event: dict[str, Any]) -> None:
    s = api.stores
    gid, me = event["gid"], event["member_vec"]
    # Given a photo of the member that digest rendered, and one from before renditions existed
    rendered = s.image(gid, [s.near(me)])
    rendered.thumbnail_key = f"thumbnails/{gid}/{rendered.image_id}.jpg"
    rendered.preview_key = f"previews/{gid}/{rendered.image_id}.jpg"
    s.metadata.put_image(rendered)
    older = s.image(gid, [s.near(me)])
    # When the member asks for their photos
    body = api.client.get("/get", headers=api.auth(event["member"])).json()
    photos = {p["image_id"]: p for p in body["personal_images"]}
    # Then the rendered one has three presigned URLs, the older one only its original
    assert (
        f"/thumbnails/{gid}/{rendered.image_id}.jpg?" in photos[rendered.image_id]["thumbnail_url"]
    )
    assert f"/previews/{gid}/{rendered.image_id}.jpg?" in photos[rendered.image_id]["preview_url"]
    assert "/originals/" in photos[rendered.image_id]["url"]
    assert photos[older.image_id]["thumbnail_url"] is None
    assert photos[older.image_id]["preview_url"] is None
    # And the organiser's image list carries the same three
    items = api.client.get(f"/groups/{gid}/images", headers=api.auth(event["owner"])).json()
    listed = {i["image_id"]: i for i in items["items"]}
    assert "/thumbnails/" in listed[rendered.image_id]["thumbnail_url"]
    assert "/previews/" in listed[rendered.image_id]["preview_url"]
    assert "/originals/" in listed[older.image_id]["url"]
