"""Uploads into a section: multipart, Drive link and presigned POSTs carry ``section_id``
through to the image item (API path) or the signed object metadata (digest path)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from fakes import Api, FakeEngine, jpeg
from findme.adapters import https_fetch
from findme.services import media
from findme.services.digest import DigestDeps, digest_object


@pytest.fixture
def gallery(api: Api) -> dict[str, Any]:
    """An owner, a group with two sections ("Ceremony", "Reception") and another group's
    section (same owner), so a foreign section id is a real id."""
    _, owner, _ = api.register("Owner")
    gid = api.group(owner)["group_id"]
    other_gid = api.group(owner, "Other")["group_id"]

    def section(group_id: str, name: str) -> str:
        response = api.client.post(
            f"/groups/{group_id}/sections", json={"name": name}, headers=api.auth(owner)
        )
        assert response.status_code == 201, response.text
        section_id: str = response.json()["section_id"]
        return section_id

    return {
        "owner": owner,
        "gid": gid,
        "ceremony": section(gid, "Ceremony"),
        "reception": section(gid, "Reception"),
        "foreign": section(other_gid, "Elsewhere"),
    }


def _listed(api: Api, g: dict[str, Any], section_id: str | None = None) -> set[str]:
    params = {"section_id": section_id} if section_id else {}
    response = api.client.get(
        f"/groups/{g['gid']}/images", params=params, headers=api.auth(g["owner"])
    )
    assert response.status_code == 200, response.text
    return {item["image_id"] for item in response.json()["items"]}


def test_multipart_upload_into_a_section_lists_under_it(api: Api, gallery: dict[str, Any]) -> None:
    g = gallery
    # Given two photos uploaded into "Ceremony" and one without a section
    response = api.client.post(
        "/upload",
        data={"group_id": g["gid"], "section_id": g["ceremony"]},
        files=[("files", (f"{i}.jpg", jpeg(seed=60 + i), "image/jpeg")) for i in range(2)],
        headers=api.auth(g["owner"]),
    )
    assert response.status_code == 202, response.text
    in_ceremony = set(response.json()["image_ids"])
    loose = api.client.post(
        "/upload",
        data={"group_id": g["gid"]},
        files=[("files", ("x.jpg", jpeg(seed=62), "image/jpeg"))],
        headers=api.auth(g["owner"]),
    ).json()["image_ids"]
    # Then the items carry the section, and the section filter lists exactly those two
    images = [api.stores.metadata.get_image(i) for i in in_ceremony]
    assert {i.section_id for i in images} == {g["ceremony"]}
    assert api.stores.metadata.get_image(loose[0]).section_id is None
    assert _listed(api, g, g["ceremony"]) == in_ceremony
    assert _listed(api, g, g["reception"]) == set()
    assert _listed(api, g) == in_ceremony | set(loose)
    # And the original's S3 metadata names the section too (digest reads it if it ever
    # has to rebuild the item from the object)
    info = api.stores.objects.head(images[0].s3_key)
    assert info is not None
    meta = {k.lower().removeprefix("x-amz-meta-"): v for k, v in info.metadata.items()}
    assert meta.get(media.META_SECTION_ID) == g["ceremony"]


def test_drive_upload_into_a_section(
    api: Api, gallery: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    g = gallery
    # Given a Drive link whose download is a JPEG (the fetch is stubbed: no network)
    photo = jpeg(seed=70)
    monkeypatch.setattr(https_fetch, "fetch_https", lambda url, settings, **_: (photo, "drive.jpg"))
    body = {
        "drive_url": "https://drive.google.com/file/d/1AbCdEfGhIjKlMnOp/view",
        "group_id": g["gid"],
        "section_id": g["reception"],
    }
    # When it is uploaded into "Reception"
    response = api.client.post("/upload", json=body, headers=api.auth(g["owner"]))
    # Then the image lists under "Reception"
    assert response.status_code == 202, response.text
    (image_id,) = response.json()["image_ids"]
    assert api.stores.metadata.get_image(image_id).section_id == g["reception"]
    assert _listed(api, g, g["reception"]) == {image_id}


@pytest.mark.parametrize("which", ["missing", "foreign"])
def test_unknown_section_is_refused_and_nothing_is_stored(
    api: Api, gallery: dict[str, Any], which: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = gallery
    section_id = "no-such-section" if which == "missing" else g["foreign"]
    monkeypatch.setattr(
        https_fetch, "fetch_https", lambda url, settings, **_: (jpeg(seed=81), "drive.jpg")
    )
    # When uploading into a section the group does not have (multipart, Drive, presigned)
    multipart = api.client.post(
        "/upload",
        data={"group_id": g["gid"], "section_id": section_id},
        files=[("files", ("a.jpg", jpeg(seed=80), "image/jpeg"))],
        headers=api.auth(g["owner"]),
    )
    drive = api.client.post(
        "/upload",
        json={
            "drive_url": "https://drive.google.com/file/d/1AbCdEfGhIjKlMnOp/view",
            "group_id": g["gid"],
            "section_id": section_id,
        },
        headers=api.auth(g["owner"]),
    )
    presign = api.client.post(
        f"/groups/{g['gid']}/uploads",
        json={"files": [{"file_name": "a.jpg"}], "section_id": section_id},
        headers=api.auth(g["owner"]),
    )
    # Then each is 422 unknown_section in the JSON error shape
    for response in (multipart, drive, presign):
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "unknown_section"
        assert response.json()["detail"]
        assert "uploads" not in response.json()
    # And nothing was stored: no image item, no object under the group's originals
    counts = api.client.get(f"/groups/{g['gid']}", headers=api.auth(g["owner"])).json()
    assert counts["image_counts"]["total"] == 0
    assert list(api.stores.objects.list(f"originals/{g['gid']}/")) == []


def test_presigned_post_fixes_the_section_and_digest_files_the_image(
    api: Api, gallery: dict[str, Any]
) -> None:
    g = gallery
    # Given presigned POSTs requested for "Ceremony"
    response = api.client.post(
        f"/groups/{g['gid']}/uploads",
        json={"files": [{"file_name": "IMG_7.jpg"}], "section_id": g["ceremony"]},
        headers=api.auth(g["owner"]),
    )
    assert response.status_code == 200, response.text
    upload = response.json()["uploads"][0]
    fields = upload["fields"]
    # Then the form carries the section as x-amz-meta-section-id, and the signed policy
    # pins that exact value (S3 refuses a form whose field differs)
    assert fields["x-amz-meta-section-id"] == g["ceremony"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert {"x-amz-meta-section-id": g["ceremony"]} in policy["conditions"]
    assert {"key": upload["key"]} in policy["conditions"]
    # When the client posts the file to S3 as told, and the notification runs digest
    photo = jpeg(seed=90)
    posted = requests.post(
        upload["url"], data=fields, files={"file": ("IMG_7.jpg", photo, "image/jpeg")}, timeout=10
    )
    assert posted.status_code in (200, 201, 204), posted.text
    deps = DigestDeps(
        store=api.stores.objects,
        metadata=api.stores.metadata,
        vectors=api.stores.vectors,
        engine=FakeEngine(width=64, height=48),  # no faces registered: none found
        settings=api.settings,
    )
    outcome = digest_object(upload["key"], deps)
    # Then digest created the image item in "Ceremony", and it lists there
    assert (outcome.status, outcome.image_id) == ("processed", upload["image_id"]), outcome
    assert api.stores.metadata.get_image(upload["image_id"]).section_id == g["ceremony"]
    assert _listed(api, g, g["ceremony"]) == {upload["image_id"]}


def test_presigned_post_without_a_section_has_no_section_field(
    api: Api, gallery: dict[str, Any]
) -> None:
    response = api.client.post(
        f"/groups/{gallery['gid']}/uploads",
        json={"files": [{"file_name": "a.jpg"}]},
        headers=api.auth(gallery["owner"]),
    )
    assert response.status_code == 200, response.text
    assert "x-amz-meta-section-id" not in response.json()["uploads"][0]["fields"]
