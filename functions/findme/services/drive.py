"""Google Drive links for ``POST /upload``: one shared file, or a shared folder of photos.

Every request goes through :func:`findme.services.media.fetch_https` and its rules: HTTPS
only, hosts checked exactly (never a look-alike), addresses checked public on every hop,
redirects followed by hand and re-checked, bodies streamed and cut at
``max_upload_bytes``.

- A file link (``/file/d/{id}/...``, ``/open?id=``, ``/uc?id=``) is fetched as
  ``https://drive.google.com/uc?export=download&id={id}``; Drive may redirect to its content
  hosts (:func:`is_drive_host`).
- A folder link (``/drive/folders/{id}``, ``/drive/u/0/folders/{id}``) is listed with the
  Drive API v3 public listing, ``GET https://www.googleapis.com/drive/v3/files`` with
  ``q='{id}' in parents and trashed = false and mimeType contains 'image/'`` and the
  deployment's API key (``FINDME_DRIVE_API_KEY``; the folder must be shared with "anyone
  with the link"), host ``www.googleapis.com`` exactly. Its photos (not sub-folders) are
  then fetched one by one as file links; at most ``max_upload_files`` of them and
  :data:`MAX_FOLDER_BYTES` in all, every one checked before anything is stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

from findme.config import Settings
from findme.errors import ImageTooLargeError, InvalidInputError
from findme.services import media
from findme.services.media import CheckedImage, check_file_count, check_image, resolve_host

if TYPE_CHECKING:
    import httpx

_DRIVE_FILE = re.compile(r"^/file/d/([A-Za-z0-9_-]{10,})(?:/|$)")
_DRIVE_FOLDER = re.compile(r"^/drive/(?:u/\d+/)?folders/([A-Za-z0-9_-]{10,})(?:/|$)")
_DRIVE_ID = re.compile(r"[A-Za-z0-9_-]{10,}")
_DRIVE_HOSTS = frozenset({"drive.google.com", "docs.google.com"})
#: Hosts a Drive download may redirect to: Drive itself and Google's content hosts.
_DRIVE_CONTENT_HOSTS = frozenset({"drive.usercontent.google.com"})
_DRIVE_CONTENT_SUFFIX = ".googleusercontent.com"

#: The Drive API v3 ``files.list`` endpoint and its one host.
DRIVE_API_FILES = "https://www.googleapis.com/drive/v3/files"
DRIVE_API_HOST = "www.googleapis.com"
#: Files per listing page (the Drive API's maximum ``pageSize``).
FOLDER_PAGE_SIZE = 1000
#: Bytes a folder may bring in one request, all held in memory until every photo passed its
#: checks (nothing is stored if one fails): eight full-size photos' worth of the default
#: 25 MB limit, well within the api Lambda's memory.
MAX_FOLDER_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class DriveLink:
    """What a Drive link points at."""

    kind: Literal["file", "folder"]
    id: str


@dataclass(frozen=True, slots=True)
class DriveFile:
    """A photo listed in a shared folder; ``size`` in bytes as Drive declares it."""

    id: str
    name: str
    mime_type: str
    size: int | None


@dataclass(frozen=True, slots=True)
class HttpsFetcher:
    """How links are fetched: an httpx client (``None``: one per call) and a DNS resolver.

    The API builds the default; tests give an ``httpx.MockTransport`` client and a fixed
    resolver, so no test reaches the internet.
    """

    client: httpx.Client | None = None
    resolve: Callable[[str], list[str]] = resolve_host

    def fetch(
        self, url: str, settings: Settings, *, allowed_host: Callable[[str], bool]
    ) -> tuple[bytes, str]:
        """:func:`~findme.services.media.fetch_https` with this client and resolver."""
        return media.fetch_https(
            url, settings, client=self.client, resolve=self.resolve, allowed_host=allowed_host
        )


def is_drive_host(host: str) -> bool:
    """Whether a Drive download may be fetched from ``host``: exactly ``drive.google.com``,
    ``docs.google.com``, ``drive.usercontent.google.com``, or a ``*.googleusercontent.com``
    content host (where Drive redirects downloads). Never a look-alike such as
    ``drive.google.com.evil.example``."""
    name = host.lower().rstrip(".")
    return (
        name in _DRIVE_HOSTS
        or name in _DRIVE_CONTENT_HOSTS
        or (name.endswith(_DRIVE_CONTENT_SUFFIX) and name != _DRIVE_CONTENT_SUFFIX[1:])
    )


def is_drive_api_host(host: str) -> bool:
    """Whether ``host`` is exactly the Drive API's (folder listings)."""
    return host.lower().rstrip(".") == DRIVE_API_HOST


def parse_drive_link(url: str) -> DriveLink:
    """The file or folder a Google Drive share link points at.

    Raises:
        InvalidInputError: not ``https://`` (``https_required``), another host
            (``unsupported_url_host``), a Drive link to neither a file nor a folder, such as
            a Google Docs document (``unsupported_drive_link``).
    """
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidInputError("drive_url must be an https:// link", code="https_required")
    if parts.hostname.lower() not in _DRIVE_HOSTS:
        raise InvalidInputError(
            "drive_url must be a Google Drive link (https://drive.google.com/...)",
            code="unsupported_url_host",
        )
    folder = _DRIVE_FOLDER.match(parts.path)
    if folder is not None:
        return DriveLink("folder", folder.group(1))
    match = _DRIVE_FILE.match(parts.path)
    file_id = match.group(1) if match else None
    if file_id is None and parts.path in ("/open", "/uc"):
        ids = parse_qs(parts.query).get("id", [])
        file_id = ids[0] if ids and _DRIVE_ID.fullmatch(ids[0]) else None
    if file_id is None:
        raise InvalidInputError(
            "Only Google Drive links to a file or a folder are supported (not documents)",
            code="unsupported_drive_link",
        )
    return DriveLink("file", file_id)


def drive_file_url(file_id: str) -> str:
    """The direct-download URL of a shared Drive file."""
    return f"https://drive.google.com/uc?export=download&id={file_id}"


def drive_download_url(url: str) -> str:
    """The direct-download form of a Google Drive link to one file.

    ``https://drive.google.com/file/d/{id}/view?usp=sharing``, ``.../open?id={id}`` and
    ``.../uc?id={id}`` all become ``https://drive.google.com/uc?export=download&id={id}``.

    Raises:
        InvalidInputError: as :func:`parse_drive_link`; a folder link is
            ``unsupported_drive_link`` here (use :func:`fetch_drive`).
    """
    link = parse_drive_link(url)
    if link.kind != "file":
        raise InvalidInputError("This is a folder link, not a file", code="unsupported_drive_link")
    return drive_file_url(link.id)


def folder_files(folder_id: str, settings: Settings, fetcher: HttpsFetcher) -> list[DriveFile]:
    """The photos directly in a shared folder, by name (Drive API v3 public listing).

    Raises:
        InvalidInputError: ``drive_folders_unconfigured`` (no ``drive_api_key``),
            ``download_failed`` (the API refused: a private or unknown folder, a bad key; or
            an answer that is not a listing), ``too_many_files`` (422) past
            ``max_upload_files``, ``no_files`` (an empty folder); and the fetch rules' codes.
    """
    if settings.drive_api_key is None:
        raise InvalidInputError(
            "Shared folder links need the Drive API, which this deployment has no key for "
            "(FINDME_DRIVE_API_KEY); send links to single files",
            code="drive_folders_unconfigured",
        )
    found: list[DriveFile] = []
    token: str | None = None
    while True:
        query = {
            "q": f"'{folder_id}' in parents and trashed = false and mimeType contains 'image/'",
            "fields": "nextPageToken,files(id,name,mimeType,size)",
            "pageSize": str(FOLDER_PAGE_SIZE),
            "orderBy": "name",
            "key": settings.drive_api_key.get_secret_value(),
            **({"pageToken": token} if token else {}),
        }
        data, _ = fetcher.fetch(
            f"{DRIVE_API_FILES}?{urlencode(query)}", settings, allowed_host=is_drive_api_host
        )
        files, token = _listing(data)
        found.extend(files)
        if not token or len(found) > settings.max_upload_files:
            break
    if not found:
        raise InvalidInputError("The folder holds no photos", code="no_files")
    check_file_count(len(found), settings)
    return found


def _listing(data: bytes) -> tuple[list[DriveFile], str | None]:
    """A ``files.list`` answer -> its photos and the next page's token."""
    try:
        body = json.loads(data)
        files = [
            DriveFile(
                id=str(f["id"]),
                name=str(f.get("name") or f["id"]),
                mime_type=str(f.get("mimeType", "")),
                size=int(f["size"]) if str(f.get("size", "")).isdigit() else None,
            )
            for f in body.get("files", [])
        ]
        token = body.get("nextPageToken")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidInputError(
            "The Drive API did not answer with a file listing", code="download_failed"
        ) from exc
    for f in files:
        if not _DRIVE_ID.fullmatch(f.id):
            raise InvalidInputError("The Drive API listed a malformed id", code="download_failed")
    return files, token if isinstance(token, str) and token else None


def fetch_drive(url: str, settings: Settings, fetcher: HttpsFetcher) -> list[CheckedImage]:
    """Every photo a Drive link points at, fetched and checked (none stored yet).

    Raises:
        InvalidInputError / ImageTooLargeError / UnsupportedMediaTypeError: the link, the
            listing, the fetch rules, or a photo's checks (``docs/errors.md``); a folder over
            :data:`MAX_FOLDER_BYTES` is 413 ``payload_too_large``.
    """
    link = parse_drive_link(url)
    if link.kind == "file":
        data, name = fetcher.fetch(drive_file_url(link.id), settings, allowed_host=is_drive_host)
        return [check_image(data, name, settings)]
    files = folder_files(link.id, settings, fetcher)
    declared = sum(f.size or 0 for f in files)
    if declared > MAX_FOLDER_BYTES:
        raise _folder_too_large()
    checked: list[CheckedImage] = []
    total = 0
    for f in files:
        data, _ = fetcher.fetch(drive_file_url(f.id), settings, allowed_host=is_drive_host)
        total += len(data)
        if total > MAX_FOLDER_BYTES:
            raise _folder_too_large()
        checked.append(check_image(data, f.name, settings))
    return checked


def _folder_too_large() -> ImageTooLargeError:
    return ImageTooLargeError(
        f"The folder holds more than {MAX_FOLDER_BYTES} bytes of photos; upload it in parts",
        code="payload_too_large",
        max_bytes=MAX_FOLDER_BYTES,
    )
