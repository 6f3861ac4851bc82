"""Fetching a remote file over HTTPS for the API (Drive links), safe against SSRF.

Imported on the first fetch (:func:`findme.wiring.remote_fetcher`), not at the api's cold
start, so httpx loads then (``benchmarks/cold_start.py``). The
:class:`~findme.ports.RemoteFetcher` of production: HTTPS only, the host checked by the
caller's rule on every hop, every hop's addresses checked public (no requests into the VPC
or the instance metadata service), redirects followed by hand, the body streamed and cut off
at ``max_upload_bytes``.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from findme.config import Settings
from findme.errors import ImageTooLargeError, InvalidInputError
from findme.observability import trace_httpx

#: Redirect hops followed when fetching a ``drive_url`` (Drive answers with 1-2).
MAX_REDIRECTS = 5
#: Seconds before a fetch gives up (connect, read, write, pool: httpx's timeout).
FETCH_TIMEOUT_S = 30.0


def _public_host(host: str, resolve: Callable[[str], list[str]]) -> None:
    """Refuse hosts that resolve to loopback, private, link-local or reserved addresses (SSRF)."""
    try:
        addresses = resolve(host)
    except OSError as exc:
        raise InvalidInputError(f"Cannot resolve {host}", code="unreachable_url") from exc
    if not addresses:
        raise InvalidInputError(f"Cannot resolve {host}", code="unreachable_url")
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if not ip.is_global:
            raise InvalidInputError(
                "drive_url must point to a public host", code="forbidden_url_host"
            )


def resolve_host(host: str) -> list[str]:
    """IP addresses of ``host`` (getaddrinfo)."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, 443)})


def fetch_https(
    url: str,
    settings: Settings,
    *,
    client: httpx.Client | None = None,
    resolve: Callable[[str], list[str]] = resolve_host,
    allowed_host: Callable[[str], bool] | None = None,
) -> tuple[bytes, str]:
    """Download one file over HTTPS, at most ``max_upload_bytes`` -> ``(bytes, file name)``.

    Redirects are followed by hand (at most 5), each hop checked again: HTTPS only, the host
    accepted by ``allowed_host`` (when given), and resolving to public addresses (no SSRF
    into the VPC or instance metadata).
    The body is streamed and cut off past the limit, so a huge file never fills memory.

    Raises:
        InvalidInputError: ``https_required``, ``unsupported_url_host`` (refused by
            ``allowed_host``), ``forbidden_url_host``, ``unreachable_url``,
            ``too_many_redirects``, ``download_failed`` (a non-2xx answer).
        ImageTooLargeError: the file is over ``max_upload_bytes`` (413).
    """
    trace_httpx()
    own_client = client is None
    http = client or httpx.Client(timeout=FETCH_TIMEOUT_S, follow_redirects=False)
    limit = settings.max_upload_bytes
    try:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(current)
            if parts.scheme != "https" or not parts.hostname:
                raise InvalidInputError("Only https:// links are fetched", code="https_required")
            if allowed_host is not None and not allowed_host(parts.hostname):
                raise InvalidInputError(
                    f"Refusing to fetch from {parts.hostname}", code="unsupported_url_host"
                )
            _public_host(parts.hostname, resolve)
            with http.stream("GET", current, follow_redirects=False) as response:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise InvalidInputError(
                            "Redirect without a location", code="download_failed"
                        )
                    current = urljoin(current, location)
                    continue
                if response.status_code >= 400:
                    raise InvalidInputError(
                        f"The link answered HTTP {response.status_code}",
                        code="download_failed",
                        upstream_status=response.status_code,
                    )
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise ImageTooLargeError(
                        f"The linked file is larger than {limit} bytes", max_bytes=limit
                    )
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise ImageTooLargeError(
                            f"The linked file is larger than {limit} bytes", max_bytes=limit
                        )
                    chunks.append(chunk)
                return b"".join(chunks), _file_name(response, current)
        raise InvalidInputError("Too many redirects", code="too_many_redirects")
    except httpx.HTTPError as exc:
        raise InvalidInputError(
            f"Could not fetch the link ({type(exc).__name__})", code="unreachable_url"
        ) from exc
    finally:
        if own_client:
            http.close()


def _file_name(response: httpx.Response, url: str) -> str:
    disposition = response.headers.get("content-disposition", "")
    found = re.search(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', disposition)
    if found:
        return posixpath.basename(found.group(1))
    return posixpath.basename(urlsplit(url).path) or "drive-photo"


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
        """:func:`fetch_https` with this client and resolver."""
        return fetch_https(
            url, settings, client=self.client, resolve=self.resolve, allowed_host=allowed_host
        )
