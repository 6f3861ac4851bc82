"""The whole attendee flow over HTTP on the local stack with the real models and faces-dev
photos, plus failures that must fail (auth, roles, cross-group, bad images, oversize)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx
import pytest
from api_http_kit import (
    ATTENDEE,
    ATTENDEE_SELFIE,
    GROUP_SHOTS,
    MAX_UPLOAD_BYTES,
    Flow,
    Server,
    bearer,
    otp_for,
    phone,
)

pytestmark = [pytest.mark.integration, pytest.mark.models]


def test_uploads_multipart_and_presigned_are_all_processed(attendee_flow: Flow) -> None:
    # Given 63 photos uploaded, half multipart and half by presigned POST
    counts = attendee_flow.counts
    # Then all reached a final status, and none of the real photos failed
    assert counts["total"] == len(attendee_flow.image_of) == 63
    assert counts["processed"] == 63, counts
    assert attendee_flow.cluster_job["status"] == "succeeded", attendee_flow.cluster_job
    print(f"\nAPI flow timings: {attendee_flow.seconds}")


def test_get_returns_the_attendees_photos_with_high_recall_and_precision(
    attendee_flow: Flow,
) -> None:
    # Given the attendee (person01) registered with a selfie not among the uploads
    body = attendee_flow.get_body
    personal = [attendee_flow.file_of[p["image_id"]] for p in body["personal_images"]]
    expected = {
        f for f, who in attendee_flow.labels.items() if who == ATTENDEE and f != ATTENDEE_SELFIE
    }
    # When comparing GET /get's personal photos (labelled singles) with the truth
    singles = [f for f in personal if f in attendee_flow.labels]
    hits = [f for f in singles if f in expected]
    recall = len(set(hits)) / len(expected)
    precision = len(hits) / len(singles) if singles else 0.0
    print(f"\n/get personal: recall {recall:.3f}, precision {precision:.3f}, {personal}")
    # Then both are at least 0.9, and every item carries a URL, expiry and similarity
    assert recall >= 0.9, (recall, sorted(expected - set(hits)))
    assert precision >= 0.9, (precision, sorted(set(singles) - expected))
    assert all(p["url"] and p["expires"] for p in body["personal_images"])
    assert all(p["similarity_score"] is not None for p in body["personal_images"])
    scores = [p["similarity_score"] for p in body["personal_images"]]
    assert scores == sorted(scores, reverse=True)


def test_get_includes_the_common_photos(attendee_flow: Flow) -> None:
    common = {attendee_flow.file_of[c["image_id"]] for c in attendee_flow.get_body["common_images"]}
    assert common == set(GROUP_SHOTS)


def test_presigned_urls_serve_the_photos(attendee_flow: Flow, faces_dev: Path) -> None:
    first = attendee_flow.get_body["personal_images"][0]
    name = attendee_flow.file_of[first["image_id"]]
    response = httpx.get(first["url"], timeout=30)
    assert response.status_code == 200
    assert response.content == (faces_dev / "images" / name).read_bytes()


def test_download_yields_a_zip_of_exactly_those_photos(
    attendee_flow: Flow, faces_dev: Path
) -> None:
    # Given the ZIP built for the personal + common photos
    status = attendee_flow.download_status
    assert status["status"] == "ready", status
    assert status["url"]
    assert status["expires"]
    archive = zipfile.ZipFile(io.BytesIO(attendee_flow.zip_bytes))
    # Then it holds exactly those files, byte-identical
    wanted = {
        attendee_flow.file_of[p["image_id"]] for p in attendee_flow.get_body["personal_images"]
    }
    wanted |= set(GROUP_SHOTS)
    assert sorted(archive.namelist()) == sorted(wanted)
    for name in archive.namelist():
        assert archive.read(name) == (faces_dev / "images" / name).read_bytes()


def test_face_routes_with_real_models(
    api_server: Server, attendee_flow: Flow, faces_dev: Path
) -> None:
    photo = (faces_dev / "images" / GROUP_SHOTS[0]).read_bytes()
    headers = bearer(attendee_flow.organiser_token)
    with api_server.client() as http:
        files = {"image": ("couple.jpg", photo, "image/jpeg")}
        faces = http.post("/get-faces", files=files, headers=headers).json()["faces"]
        features = http.post("/get-features", files=files, headers=headers).json()["faces"]
        embedded = http.post("/get-embedding", files=files, headers=headers).json()["faces"]
        # The couple photo has two faces; every shape is the seed's
        assert len(faces) == len(features) == len(embedded) == 2
        assert set(faces[0]) == {"face_id", "face_b64", "facial_area", "confidence"}
        assert set(faces[0]["facial_area"]) == {"x", "y", "w", "h"}
        assert {"emotion", "age", "gender", "landmarks"} <= set(features[0]["features"])
        assert len(embedded[0]["embedding"]) == 128
        # /search-face with the attendee's selfie finds the attendee's photos (organiser curates)
        selfie = (faces_dev / "images" / ATTENDEE_SELFIE).read_bytes()
        found = http.post(
            "/search-face",
            files={"image": ("me.jpg", selfie, "image/jpeg")},
            data={"group_id": attendee_flow.group["group_id"]},
            headers=headers,
        ).json()["matches"]
        found_files = {
            attendee_flow.file_of[m["image_s3_path"].rsplit("/", 1)[1].split(".")[0]] for m in found
        }
        assert found_files & {f for f, who in attendee_flow.labels.items() if who == ATTENDEE}
        assert all(m["image_s3_path"].startswith("s3://") for m in found)


def test_bad_images_are_refused_with_4xx(
    api_server: Server, attendee_flow: Flow, faces_dev: Path
) -> None:
    headers = bearer(attendee_flow.organiser_token)
    with api_server.client() as http:
        truncated = {"image": ("t.jpg", b"\xff\xd8\xff\xe0 truncated", "image/jpeg")}
        assert http.post("/get-faces", files=truncated, headers=headers).status_code == 400
        assert http.post("/get-faces", headers=headers).status_code == 400
        pdf = {"image": ("a.pdf", b"%PDF-1.7", "application/pdf")}
        assert http.post("/get-features", files=pdf, headers=headers).status_code == 415
        # A group photo is not a selfie: 422 naming the reason
        number = phone()
        code = otp_for(api_server, http, number)
        group_shot = (faces_dev / "images" / "selfie-many-people.jpg").read_bytes()
        response = http.post(
            "/register",
            data={"name": "Crowd", "phone_number": number, "otp": code},
            files={"selfie": ("crowd.jpg", group_shot, "image/jpeg")},
        )
        assert response.status_code == 422
        assert response.json()["reason"] == "several_faces"


def test_oversize_body_is_413(api_server: Server, attendee_flow: Flow) -> None:
    headers = bearer(attendee_flow.organiser_token)
    with api_server.client() as http:
        big = b"\xff\xd8\xff" + b"0" * (MAX_UPLOAD_BYTES + 2 * 1024 * 1024)
        response = http.post(
            "/get-faces", files={"image": ("big.jpg", big, "image/jpeg")}, headers=headers
        )
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"


def test_auth_role_and_cross_group_failures(
    api_server: Server, attendee_flow: Flow, faces_dev: Path
) -> None:
    gid = attendee_flow.group["group_id"]
    attendee = bearer(attendee_flow.attendee_token)
    organiser = bearer(attendee_flow.organiser_token)
    some_image = next(iter(attendee_flow.image_of.values()))
    with api_server.client() as http:
        # No token, a forged token
        assert http.get("/get").status_code == 401
        assert (
            http.get("/get", headers=bearer(attendee_flow.attendee_token + "x")).status_code == 401
        )
        # A member may not upload, curate, digest, cluster, or read another user's photos
        assert (
            http.post(
                f"/groups/{gid}/uploads", json={"files": [{"file_name": "a.jpg"}]}, headers=attendee
            ).status_code
            == 403
        )
        assert http.get(f"/images/{some_image}", headers=attendee).status_code == 403
        assert (
            http.post("/cluster-faces", json={"group_id": gid}, headers=attendee).status_code == 403
        )
        organiser_id = http.get("/users/me", headers=organiser).json()["user_id"]
        assert http.get(f"/get?user_id={organiser_id}", headers=attendee).status_code == 403
        # The organiser (owner) may read the attendee's photos
        as_owner = http.get(f"/get?user_id={attendee_flow.attendee_id}", headers=organiser)
        assert as_owner.status_code == 200
        assert len(as_owner.json()["personal_images"]) == len(
            attendee_flow.get_body["personal_images"]
        )
        # Someone from another group sees nothing of this one
        number = phone()
        code = otp_for(api_server, http, number)
        other = next(f for f, who in sorted(attendee_flow.labels.items()) if who == "person03")
        selfie = (faces_dev / "images" / other).read_bytes()
        response = http.post(
            "/register",
            data={"name": "Stranger", "phone_number": number, "otp": code},
            files={"selfie": ("s.jpg", selfie, "image/jpeg")},
        )
        assert response.status_code == 201, response.text
        stranger = bearer(response.json()["access_token"])
        http.post("/create-group", json={"group_name": "Other"}, headers=stranger)
        assert http.get(f"/groups/{gid}", headers=stranger).status_code == 403
        assert http.get(f"/get?group_id={gid}", headers=stranger).status_code == 403
        assert (
            http.post("/download", json={"image_ids": [some_image]}, headers=stranger).status_code
            == 403
        )
        assert (
            http.post(
                "/digest",
                json={
                    "s3_bucket": api_server.settings.bucket,
                    "s3_prefix": f"originals/{gid}/",
                    "group_id": gid,
                },
                headers=stranger,
            ).status_code
            == 403
        )
        # Even with the same face as the attendee, the stranger's /get stays empty (not a member)
        assert http.get("/get", headers=stranger).json()["personal_images"] == []


def test_health_checks_the_stores(api_server: Server) -> None:
    with api_server.client() as http:
        body = http.get("/health").json()
    assert body["status"] == "ok", body
    assert set(body["checks"]) == {"dynamodb", "s3", "qdrant"}
