"""Drive links: a shared folder of photos through the Drive API's public listing, with the
fetch rules of every link (exact hosts, public addresses, re-checked redirects). No network:
the Drive API and Drive are an ``httpx.MockTransport`` and the resolver is fixed (issue 12)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from fakes import Api, build_api, jpeg, make_settings
from findme.adapters.https_fetch import HttpsFetcher
from findme.errors import ImageTooLargeError, InvalidInputError
from findme.services import drive
from findme.services.drive import DriveLink, fetch_drive, parse_drive_link
from findme.web import deps

FOLDER = "1FoLdErIdAbCdEfGh"
KEY = "test-drive-api-key"
Handler = Callable[[httpx.Request], httpx.Response]


def public(host: str) -> list[str]:
    return ["142.250.0.1"]


def fetcher(handler: Handler, resolve: Callable[[str], list[str]] = public) -> HttpsFetcher:
    return HttpsFetcher(
        client=httpx.Client(transport=httpx.MockTransport(handler)), resolve=resolve
    )


def drive_world(
    photos: dict[str, bytes], *, page_size: int = 2, listing: Handler | None = None
) -> tuple[Handler, list[httpx.Request]]:
    """A fake Drive: the API lists ``photos`` (id -> bytes) page by page; downloads redirect
    from drive.google.com to the content host, as Drive does."""
    seen: list[httpx.Request] = []
    ids = sorted(photos)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "www.googleapis.com":
            if listing is not None:
                return listing(request)
            query = parse_qs(request.url.query.decode())
            start = int(query.get("pageToken", ["0"])[0])
            page = ids[start : start + page_size]
            body: dict[str, Any] = {
                "files": [
                    {
                        "id": i,
                        "name": f"{i}.jpg",
                        "mimeType": "image/jpeg",
                        "size": str(len(photos[i])),
                    }
                    for i in page
                ]
            }
            if start + page_size < len(ids):
                body["nextPageToken"] = str(start + page_size)
            return httpx.Response(200, json=body)
        if request.url.host == "drive.google.com":
            file_id = parse_qs(request.url.query.decode())["id"][0]
            return httpx.Response(
                303, headers={"location": f"https://drive.usercontent.google.com/d?id={file_id}"}
            )
        file_id = parse_qs(request.url.query.decode())["id"][0]
        return httpx.Response(200, content=photos[file_id])

    return handler, seen


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (
            f"https://drive.google.com/drive/folders/{FOLDER}?usp=sharing",
            DriveLink("folder", FOLDER),
        ),
        (f"https://drive.google.com/drive/u/0/folders/{FOLDER}", DriveLink("folder", FOLDER)),
        (f"https://drive.google.com/file/d/{FOLDER}/view", DriveLink("file", FOLDER)),
    ],
)
def test_folder_and_file_links_are_told_apart(link: str, expected: DriveLink) -> None:
    assert parse_drive_link(link) == expected


def test_a_shared_folder_brings_every_photo_in_it() -> None:
    # Given a public folder of three photos, listed two per page
    photos = {f"1PhOtO{i}AbCdEfGh": jpeg(seed=i) for i in range(3)}
    handler, seen = drive_world(photos)
    settings = make_settings(drive_api_key=KEY)
    # When its link is fetched
    got = fetch_drive(
        f"https://drive.google.com/drive/folders/{FOLDER}", settings, fetcher(handler)
    )
    # Then every photo arrives, checked, under its Drive name
    assert [(c.file_name, c.data) for c in got] == [(f"{i}.jpg", photos[i]) for i in sorted(photos)]
    # And the listing asked the Drive API (exact host) for the folder's images, with the key
    listings = [r for r in seen if r.url.host == "www.googleapis.com"]
    assert len(listings) == 2
    query = parse_qs(listings[0].url.query.decode())
    assert listings[0].url.path == "/drive/v3/files"
    assert query["q"] == [
        f"'{FOLDER}' in parents and trashed = false and mimeType contains 'image/'"
    ]
    assert query["key"] == [KEY]
    assert parse_qs(listings[1].url.query.decode())["pageToken"] == ["2"]


def test_folders_need_the_drive_api_key() -> None:
    handler, seen = drive_world({})
    with pytest.raises(InvalidInputError) as err:
        fetch_drive(
            f"https://drive.google.com/drive/folders/{FOLDER}", make_settings(), fetcher(handler)
        )
    assert err.value.code == "drive_folders_unconfigured"
    assert seen == []


def test_the_listing_keeps_the_fetch_rules() -> None:
    settings = make_settings(drive_api_key=KEY)
    link = f"https://drive.google.com/drive/folders/{FOLDER}"

    def elsewhere(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "https://evil.example/list"})

    # A listing redirected off the Drive API's host is refused
    handler, _ = drive_world({}, listing=elsewhere)
    with pytest.raises(InvalidInputError) as err:
        fetch_drive(link, settings, fetcher(handler))
    assert err.value.code == "unsupported_url_host"
    # The API's host resolving to a private address is refused before any request
    handler, seen = drive_world({})
    with pytest.raises(InvalidInputError) as err:
        fetch_drive(link, settings, fetcher(handler, resolve=lambda host: ["10.0.0.7"]))
    assert (err.value.code, seen) == ("forbidden_url_host", [])


@pytest.mark.parametrize(
    ("status", "body"), [(404, {"error": {"code": 404}}), (200, ["not", "a", "listing"])]
)
def test_a_private_folder_or_a_strange_answer_is_a_failed_download(status: int, body: Any) -> None:
    def listing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=json.dumps(body).encode())

    handler, _ = drive_world({}, listing=listing)
    with pytest.raises(InvalidInputError) as err:
        fetch_drive(
            f"https://drive.google.com/drive/folders/{FOLDER}",
            make_settings(drive_api_key=KEY),
            fetcher(handler),
        )
    assert err.value.code == "download_failed"


def test_folder_limits_files_and_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    link = f"https://drive.google.com/drive/folders/{FOLDER}"
    photos = {f"1PhOtO{i}AbCdEfGh": jpeg(seed=i) for i in range(4)}
    # More photos than one upload may hold: 422 too_many_files, as multipart
    handler, _ = drive_world(photos)
    with pytest.raises(InvalidInputError) as err:
        fetch_drive(link, make_settings(drive_api_key=KEY, max_upload_files=3), fetcher(handler))
    assert err.value.code == "too_many_files"
    # More bytes than a folder may bring: 413, before any photo is downloaded
    monkeypatch.setattr(drive, "MAX_FOLDER_BYTES", 100)
    handler, seen = drive_world(photos)
    with pytest.raises(ImageTooLargeError):
        fetch_drive(link, make_settings(drive_api_key=KEY), fetcher(handler))
    assert {r.url.host for r in seen} == {"www.googleapis.com"}
    # An empty folder has no photos to upload
    handler, _ = drive_world({})
    with pytest.raises(InvalidInputError) as err:
        fetch_drive(link, make_settings(drive_api_key=KEY), fetcher(handler))
    assert err.value.code == "no_files"


@pytest.fixture
def drive_api(stores: Any) -> Api:
    return build_api(stores, drive_api_key=KEY)


def test_upload_a_shared_folder_into_a_group(drive_api: Api) -> None:
    # Given an owner's group and a shared folder with two photos and a PDF named .jpg
    api = drive_api
    _, owner, _ = api.register("Owner")
    gid = api.group(owner)["group_id"]
    photos = {"1PhOtOaAbCdEfGh": jpeg(seed=1), "1PhOtObAbCdEfGh": jpeg(seed=2)}
    handler, _ = drive_world(photos)
    api.app.dependency_overrides[deps.https_fetcher] = lambda: fetcher(handler)
    body = {"group_id": gid, "drive_url": f"https://drive.google.com/drive/folders/{FOLDER}"}
    # When the folder link is uploaded, Then both photos are stored, processing triggered
    response = api.client.post("/upload", json=body, headers=api.auth(owner))
    assert response.status_code == 202, response.text
    images = [api.stores.metadata.get_image(i) for i in response.json()["image_ids"]]
    assert sorted(i.file_name or "" for i in images) == sorted(f"{i}.jpg" for i in photos)
    # And with a non-photo among them nothing is stored (the one bad-file status, 415)
    bad, _ = drive_world({**photos, "1PdFfIlEAbCdEfGh": b"%PDF-1.4 not a photo"})
    api.app.dependency_overrides[deps.https_fetcher] = lambda: fetcher(bad)
    before = len(api.stores.metadata.list_images(gid).items)
    response = api.client.post("/upload", json=body, headers=api.auth(owner))
    assert (response.status_code, response.json()["code"]) == (415, "unsupported_media_type")
    assert len(api.stores.metadata.list_images(gid).items) == before
