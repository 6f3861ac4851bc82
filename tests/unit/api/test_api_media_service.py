"""Upload checks (type by magic bytes, size, pixels), Drive link conversion, and the
server-side HTTPS fetch's refusals — all without network (httpx.MockTransport)."""

from __future__ import annotations

import io

import httpx
import pytest
from fakes import jpeg, make_settings
from findme.adapters.https_fetch import fetch_https
from findme.errors import (
    ImageTooLargeError,
    InvalidImageError,
    InvalidInputError,
    UnsupportedMediaTypeError,
)
from findme.services.drive import drive_download_url, is_drive_host
from findme.services.media import (
    check_image,
    image_dimensions,
    sniff_image_type,
)
from PIL import Image as PILImage
from pillow_heif import register_heif_opener


def encoded(fmt: str, width: int, height: int) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (width, height), (120, 30, 200)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "HEIF"])
def test_a_whole_photo_passes_and_a_cut_one_is_refused_without_decoding(fmt: str) -> None:
    # Given a whole photo of each accepted format, and the same photo cut short
    register_heif_opener()
    data = encoded(fmt, 64, 48)
    # When checked, Then the whole one passes and the cut one is a 400 invalid_image
    assert check_image(data, "p", make_settings()).width in (64, None)
    for cut in (data[: len(data) // 2], data[:-3]):
        with pytest.raises(InvalidImageError, match="truncated"):
            check_image(cut, "p", make_settings())


@pytest.mark.parametrize(
    ("fmt", "ext", "ctype"),
    [
        ("JPEG", ".jpg", "image/jpeg"),
        ("PNG", ".png", "image/png"),
        ("GIF", ".gif", "image/gif"),
        ("WEBP", ".webp", "image/webp"),
    ],
)
def test_type_and_dimensions_come_from_the_bytes(fmt: str, ext: str, ctype: str) -> None:
    # Given a 37x23 image in each accepted format
    data = encoded(fmt, 37, 23)
    # Then its type and size are read from the header
    assert sniff_image_type(data) == (ext, ctype)
    assert image_dimensions(data) == (37, 23)


def test_lossless_webp_dimensions() -> None:
    buf = io.BytesIO()
    PILImage.new("RGB", (301, 17)).save(buf, format="WEBP", lossless=True)
    assert image_dimensions(buf.getvalue()) == (301, 17)


def test_heic_brand_is_recognised() -> None:
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    assert sniff_image_type(heic) == (".heic", "image/heic")


@pytest.mark.parametrize(
    "data", [b"%PDF-1.7 ...", b"<html>Drive says hi</html>", b"GIF", b"BM\x00\x00"]
)
def test_other_files_are_unsupported_media(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaTypeError):
        sniff_image_type(data)


def test_empty_file_is_an_invalid_image() -> None:
    with pytest.raises(InvalidImageError):
        check_image(b"", "x.jpg", make_settings())


def test_byte_limit_gives_image_too_large() -> None:
    data = jpeg(200, 200)
    with pytest.raises(ImageTooLargeError) as err:
        check_image(data, "big.jpg", make_settings(max_upload_bytes=len(data) - 1))
    assert err.value.code == "image_too_large"


def test_pixel_limit_is_checked_from_the_header() -> None:
    # Given a 100x100 PNG and a 9,999-pixel limit
    data = encoded("PNG", 100, 100)
    # Then it is refused with its own code (422), without decoding
    with pytest.raises(ImageTooLargeError) as err:
        check_image(data, "wide.png", make_settings(max_image_pixels=9_999))
    assert err.value.code == "image_pixels_exceeded"
    assert check_image(data, "../../etc/wide.png", make_settings()).file_name == "wide.png"


@pytest.mark.parametrize(
    ("link", "direct"),
    [
        (
            "https://drive.google.com/file/d/1AbCdEfGhIjKlMnOp/view?usp=sharing",
            "https://drive.google.com/uc?export=download&id=1AbCdEfGhIjKlMnOp",
        ),
        (
            "https://drive.google.com/open?id=1AbCdEfGhIjKlMnOp",
            "https://drive.google.com/uc?export=download&id=1AbCdEfGhIjKlMnOp",
        ),
        (
            "https://drive.google.com/uc?id=1AbCdEfGhIjKlMnOp&export=download",
            "https://drive.google.com/uc?export=download&id=1AbCdEfGhIjKlMnOp",
        ),
    ],
)
def test_drive_share_links_become_download_links(link: str, direct: str) -> None:
    assert drive_download_url(link) == direct


@pytest.mark.parametrize(
    ("link", "code"),
    [
        ("http://drive.google.com/file/d/1AbCdEfGhIjKlMnOp/view", "https_required"),
        ("ftp://example.com/a.jpg", "https_required"),
        # a folder is not one file (folders: test_api_drive.py)
        ("https://drive.google.com/drive/folders/1AbCdEfGhIjKlMnOp", "unsupported_drive_link"),
        ("https://docs.google.com/document/d/1AbCdEfGhIjKlMnOp/edit", "unsupported_drive_link"),
        ("https://example.com/photos/a.jpg", "unsupported_url_host"),
        (
            "https://drive.google.com.evil.example/file/d/1AbCdEfGhIjKlMnOp/view",
            "unsupported_url_host",
        ),
        (
            "https://evil.example/drive.google.com/file/d/1AbCdEfGhIjKlMnOp/view",
            "unsupported_url_host",
        ),
    ],
)
def test_unsupported_links_are_refused(link: str, code: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        drive_download_url(link)
    assert err.value.code == code


def _client(handler: httpx.MockTransport) -> httpx.Client:
    return httpx.Client(transport=handler)


def public(host: str) -> list[str]:
    return ["142.250.0.1"]


def test_fetch_follows_drive_redirects_and_returns_the_file() -> None:
    # Given Drive redirecting to its content host, which serves a JPEG
    photo = jpeg(32, 32)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.host == "drive.google.com":
            return httpx.Response(
                303, headers={"location": "https://drive.usercontent.google.com/d?id=1"}
            )
        return httpx.Response(
            200, content=photo, headers={"content-disposition": 'attachment; filename="party.jpg"'}
        )

    # When it is fetched
    data, name = fetch_https(
        drive_download_url("https://drive.google.com/file/d/1AbCdEfGhIjKlMnOp/view"),
        make_settings(),
        client=_client(httpx.MockTransport(handler)),
        resolve=public,
    )
    # Then the bytes and file name arrive after one redirect
    assert (data, name) == (photo, "party.jpg")
    assert len(seen) == 2


def test_fetch_refuses_redirect_to_plain_http() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "http://example.com/a.jpg"})

    with pytest.raises(InvalidInputError) as err:
        fetch_https(
            "https://example.com/x",
            make_settings(),
            client=_client(httpx.MockTransport(handler)),
            resolve=public,
        )
    assert err.value.code == "https_required"


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.5", "169.254.169.254", "::1"])
def test_fetch_refuses_private_addresses(address: str) -> None:
    # Given a host resolving to a loopback/private/link-local address (SSRF)
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("must not be contacted")

    with pytest.raises(InvalidInputError) as err:
        fetch_https(
            "https://internal.example/x",
            make_settings(),
            client=_client(httpx.MockTransport(handler)),
            resolve=lambda h: [address],
        )
    assert err.value.code == "forbidden_url_host"


def test_fetch_stops_reading_past_the_size_limit() -> None:
    # Given a server streaming more than the limit without a Content-Length
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=iter([b"\xff\xd8\xff" + b"0" * 4000] * 10))

    with pytest.raises(ImageTooLargeError):
        fetch_https(
            "https://example.com/big.jpg",
            make_settings(max_upload_bytes=10_000),
            client=_client(httpx.MockTransport(handler)),
            resolve=public,
        )


def test_fetch_reports_upstream_errors_and_redirect_loops() -> None:
    def not_found(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404)

    def loop(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "https://example.com/again"})

    with pytest.raises(InvalidInputError) as err:
        fetch_https(
            "https://example.com/a",
            make_settings(),
            client=_client(httpx.MockTransport(not_found)),
            resolve=public,
        )
    assert err.value.code == "download_failed"
    with pytest.raises(InvalidInputError) as err:
        fetch_https(
            "https://example.com/a",
            make_settings(),
            client=_client(httpx.MockTransport(loop)),
            resolve=public,
        )
    assert err.value.code == "too_many_redirects"


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("drive.google.com", True),
        ("docs.google.com", True),
        ("drive.usercontent.google.com", True),
        ("doc-0s-8c-docs.googleusercontent.com", True),
        ("drive.google.com.evil.example", False),
        ("googleusercontent.com", False),
        ("evilgoogleusercontent.com", False),
        ("google.com", False),
    ],
)
def test_drive_hosts_are_matched_exactly(host: str, ok: bool) -> None:
    assert is_drive_host(host) is ok


def test_fetch_refuses_a_redirect_off_drive() -> None:
    """Given Drive redirecting to another host, when fetched with the Drive host rule, then
    the other host is never contacted (400 unsupported_url_host)."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return httpx.Response(302, headers={"location": "https://evil.example/a.jpg"})

    with pytest.raises(InvalidInputError) as err:
        fetch_https(
            "https://drive.google.com/uc?export=download&id=1AbCdEfGhIjKlMnOp",
            make_settings(),
            client=_client(httpx.MockTransport(handler)),
            resolve=public,
            allowed_host=is_drive_host,
        )
    assert err.value.code == "unsupported_url_host"
    assert seen == ["drive.google.com"]
