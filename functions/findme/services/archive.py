"""Build a download ZIP: stream originals from S3 into ``archives/{job_id}.zip``.

The archive is never held in memory or on disk: each original is read in chunks from
:meth:`ObjectStore.open_read` and written through :class:`zipfile.ZipFile` into
:meth:`ObjectStore.open_multipart_writer`, whose parts are uploaded as they fill. Because the
target stream cannot seek, ``zipfile`` writes each entry's CRC and sizes in a data descriptor
after its data (APPNOTE 4.3.9) and the central directory at the end; ZIP64 records are used
once the archive passes 4 GiB or 65,535 entries (APPNOTE 4.5.3). Entries are STORED: photos
are already compressed, deflating them would only spend CPU.

Throughput: one ``GetObject`` at a time left the copy waiting on S3 for half of its time, so
the originals after the one being written are fetched on threads meanwhile: up to
:data:`PREFETCH_OBJECTS` of them, and no more than :data:`PREFETCH_BUFFER_BYTES` of originals
held or in flight, the one being written included (photos up to
:data:`PREFETCH_MAX_OBJECT_BYTES` are fetched whole; a larger original, or one of unknown size,
is streamed in chunks in its turn). The writer uploads parts concurrently
(:meth:`ObjectStore.open_multipart_writer`). Peak memory is bounded whatever the archive
size: the prefetch buffer plus the writer's parts in flight. Entries keep the selection's
order; a fetch that fails fails the job (the upload is aborted, nothing half-written stays).
"""

from __future__ import annotations

import posixpath
import re
import time
import zipfile
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any, Protocol, cast

from findme.config import Settings
from findme.domain.keys import KeyScheme
from findme.domain.records import Image, Job, JobStatus, JobType, utcnow
from findme.errors import InvalidInputError, NotFoundError
from findme.ports import FaceRepository, ImageRepository, JobRepository, ObjectStore


class BuildArchiveStore(ImageRepository, FaceRepository, JobRepository, Protocol):
    """The metadata repositories :func:`build_archive` uses."""


class SelectImagesStore(ImageRepository, FaceRepository, Protocol):
    """The metadata repositories :func:`select_images` uses."""


#: Bytes read from S3 per copy step (bounded memory per entry).
CHUNK_BYTES = 1024 * 1024
#: SigV4 presigned URLs live at most 7 days (S3 User Guide, "Sharing objects with presigned URLs").
MAX_PRESIGN_S = 7 * 24 * 3600
#: Progress is written to the job item every this many files (and at the end).
PROGRESS_EVERY = 10
#: Originals fetched ahead at most (threads, one GetObject each).
PREFETCH_OBJECTS = 8
#: Bytes of originals fetched ahead (held or in flight, the one being written included) at
#: most: the bounded buffer between the fetches and the writer.
PREFETCH_BUFFER_BYTES = 48 * 1024 * 1024
#: Largest original fetched whole ahead of its turn (bytes); larger ones stream in chunks.
PREFETCH_MAX_OBJECT_BYTES = 16 * 1024 * 1024

_UNSAFE = re.compile(r"[\x00-\x1f/\\:*?\"<>|]+")


@dataclass(frozen=True, slots=True)
class ArchiveEntry:
    """One original to put in the archive under ``name``."""

    image_id: str
    key: str
    name: str
    #: Size of the original in bytes when known (decides whether it is prefetched).
    size_bytes: int | None = None


@dataclass(slots=True)
class ArchiveResult:
    """What :func:`build_archive` wrote.

    Attributes:
        key: archive object key, ``archives/{job_id}.zip``.
        url: presigned GET URL of the archive.
        url_expires_at: when ``url`` stops working (UTC).
        files: entries written.
        bytes_in: bytes of originals copied (uncompressed sizes).
        missing: image ids whose original was not found (skipped).
        seconds: wall time.
    """

    key: str
    url: str
    url_expires_at: datetime
    files: int
    bytes_in: int
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "url": self.url,
            "url_expires_at": self.url_expires_at.isoformat(),
            "files": self.files,
            "bytes": self.bytes_in,
            "missing": self.missing,
            "seconds": round(self.seconds, 3),
        }


class _CountingStream:
    """A write-only, non-seekable view of the multipart writer that counts bytes.

    ``zipfile`` probes ``tell``/``seek``; exposing neither makes it stream (data descriptors)
    whatever the underlying writer offers.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.bytes_out = 0

    def write(self, data: bytes) -> int:
        self._raw.write(data)
        self.bytes_out += len(data)
        return len(data)

    def flush(self) -> None:
        self._raw.flush()


def unique_names(
    entries: list[tuple[str, str, str]], sizes: Sequence[int | None] | None = None
) -> list[ArchiveEntry]:
    """Give every entry a safe, unique file name inside the archive.

    Args:
        entries: ``(image_id, key, wanted_name)``; ``wanted_name`` may be empty.
        sizes: each entry's size in bytes, if known (kept on the entries).

    Returns:
        Entries in the same order; clashes become ``name (2).jpg``, ``name (3).jpg``...
        (compared case-insensitively, as Windows and macOS file systems do).
    """
    taken: set[str] = set()
    out: list[ArchiveEntry] = []
    for index, (image_id, key, wanted) in enumerate(entries):
        base = _UNSAFE.sub("_", posixpath.basename(wanted.replace("\\", "/"))).strip(" .")
        if not base:
            base = image_id + posixpath.splitext(key)[1]
        stem, ext = posixpath.splitext(base)
        name, n = base, 1
        while name.lower() in taken:
            n += 1
            name = f"{stem} ({n}){ext}"
        taken.add(name.lower())
        size = sizes[index] if sizes is not None else None
        out.append(ArchiveEntry(image_id=image_id, key=key, name=name, size_bytes=size))
    return out


def select_images(job: Job, metadata: SelectImagesStore) -> tuple[list[Image], list[str]]:
    """The images a download job asks for, and the requested ids that do not exist.

    ``job.params`` holds ``image_ids`` (a list), or ``person_id``; with neither, the whole
    ``job.group_id``. Images outside ``job.group_id`` (when set) count as missing.

    Raises:
        InvalidInputError: no selection at all.
    """
    params = job.params
    images: list[Image] = []
    missing: list[str] = []
    if params.get("image_ids"):
        ids = list(dict.fromkeys(str(i) for i in params["image_ids"]))
    elif params.get("person_id"):
        faces = metadata.list_faces_of_person(str(params["person_id"]))
        ids = list(dict.fromkeys(f.image_id for f in faces))
    elif job.group_id:
        ids = []
        cursor: str | None = None
        while True:
            page = metadata.list_images(job.group_id, limit=100, cursor=cursor)
            images.extend(page.items)
            cursor = page.cursor
            if cursor is None:
                return images, missing
    else:
        raise InvalidInputError("a download job needs image_ids, person_id or group_id")
    found = {image.image_id: image for image in metadata.get_images(ids)}
    for image_id in ids:
        image = found.get(image_id)
        if image is None or (job.group_id and image.group_id != job.group_id):
            missing.append(image_id)
            continue
        images.append(image)
    return images, missing


def _chunks(reader: IO[bytes]) -> Iterator[bytes]:
    while chunk := reader.read(CHUNK_BYTES):
        yield chunk


# Long on purpose: one streaming loop (prefetch, zip entry, multipart part) under one try/finally
# that aborts the upload on any failure.
def build_archive(
    job_id: str,
    *,
    store: ObjectStore,
    metadata: BuildArchiveStore,
    settings: Settings,
) -> ArchiveResult:
    """Stream a download job's originals into one ZIP and mark the job ``ready``.

    Progress: ``total`` is set before copying; ``done`` counts entries written and
    ``failed`` originals that were missing. On success the job's ``result`` holds
    :meth:`ArchiveResult.as_dict` and ``expires_at`` the archive's expiry.

    Args:
        job_id: a ``download`` job in the metadata store.

    Raises:
        NotFoundError: no such job.
        InvalidInputError: not a download job, or no selection.
        DependencyError: S3 or DynamoDB failed (the multipart upload is aborted, the job is
            marked ``failed``).
    """
    started = time.perf_counter()
    job = metadata.get_job(job_id)
    if job.job_type is not JobType.DOWNLOAD:
        raise InvalidInputError(f"job {job_id} is a {job.job_type} job, not a download")
    keys = KeyScheme.from_settings(settings)
    archive_key = keys.archive(job_id)
    try:
        images, missing = select_images(job, metadata)
        entries = unique_names(
            [(im.image_id, im.s3_key, im.file_name or "") for im in images],
            [im.size_bytes for im in images],
        )
        metadata.update_job(
            job_id,
            status=JobStatus.RUNNING,
            total=len(entries) + len(missing),
            done=0,
            failed=len(missing),
            updated_at=utcnow(),
        )
        files, bytes_in, pending_done, pending_failed = 0, 0, 0, 0
        with store.open_multipart_writer(archive_key, "application/zip") as raw:
            stream = _CountingStream(raw)
            with (
                zipfile.ZipFile(cast(IO[bytes], stream), "w", zipfile.ZIP_STORED) as zf,
                ThreadPoolExecutor(PREFETCH_OBJECTS, thread_name_prefix="zip-fetch") as pool,
            ):
                for entry, fetched in _prefetched(entries, store, pool):
                    copied = _copy_entry(zf, entry, store, fetched)
                    if copied is None:
                        missing.append(entry.image_id)
                        pending_failed += 1
                    else:
                        files += 1
                        bytes_in += copied
                        pending_done += 1
                    if pending_done + pending_failed >= PROGRESS_EVERY:
                        metadata.add_job_progress(job_id, done=pending_done, failed=pending_failed)
                        pending_done = pending_failed = 0
        if pending_done or pending_failed:
            metadata.add_job_progress(job_id, done=pending_done, failed=pending_failed)
        expires_s = min(settings.archive_retention_days * 24 * 3600, MAX_PRESIGN_S)
        url, url_expires_at = store.presigned_get(
            archive_key, expires_s=expires_s, download_name=f"findme-{job_id[:8]}.zip"
        )
        result = ArchiveResult(
            key=archive_key,
            url=url,
            url_expires_at=url_expires_at,
            files=files,
            bytes_in=bytes_in,
            missing=missing,
            seconds=time.perf_counter() - started,
        )
        metadata.update_job(
            job_id,
            status=JobStatus.READY,
            result=result.as_dict(),
            updated_at=utcnow(),
            expires_at=datetime.now(UTC) + timedelta(days=settings.archive_retention_days),
        )
        return result
    except Exception as exc:
        metadata.update_job(
            job_id,
            status=JobStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            updated_at=utcnow(),
        )
        raise


def _prefetched(
    entries: Sequence[ArchiveEntry],
    store: ObjectStore,
    pool: ThreadPoolExecutor,
    *,
    max_objects: int = PREFETCH_OBJECTS,
    buffer_bytes: int = PREFETCH_BUFFER_BYTES,
) -> Iterator[tuple[ArchiveEntry, Future[bytes | None] | None]]:
    """Each entry in order with its original being fetched ahead (``None``: stream it).

    The window holds at most ``max_objects`` entries and ``buffer_bytes`` of their sizes; the
    entry handed out counts until the caller asks for the next one (it is being written).
    An entry larger than :data:`PREFETCH_MAX_OBJECT_BYTES`, or of unknown size, is not
    fetched ahead (it takes a window slot but no buffer bytes). The first entry always
    enters, so the window never stalls.
    """
    window: deque[tuple[ArchiveEntry, Future[bytes | None] | None, int]] = deque()
    held = 0
    upcoming = iter(entries)
    following = next(upcoming, None)
    while True:
        while following is not None and len(window) < max_objects:
            size = _ahead_bytes(following)
            if window and held + size > buffer_bytes:
                break
            window.append((following, _fetch_ahead(following, store, pool), size))
            held += size
            following = next(upcoming, None)
        if not window:
            return
        entry, fetched, size = window.popleft()
        yield entry, fetched
        held -= size  # the caller has written it: its bytes are released


def _ahead_bytes(entry: ArchiveEntry) -> int:
    """Buffer bytes an entry takes while fetched ahead (0: it is streamed in its turn)."""
    size = entry.size_bytes
    if size is None or size > PREFETCH_MAX_OBJECT_BYTES:
        return 0
    return size


def _fetch_ahead(
    entry: ArchiveEntry, store: ObjectStore, pool: ThreadPoolExecutor
) -> Future[bytes | None] | None:
    size = entry.size_bytes
    if size is None or size > PREFETCH_MAX_OBJECT_BYTES:
        return None
    return pool.submit(_get_or_none, store, entry.key)


def _get_or_none(store: ObjectStore, key: str) -> bytes | None:
    try:
        return store.get(key)
    except NotFoundError:
        return None


def _copy_entry(
    zf: zipfile.ZipFile,
    entry: ArchiveEntry,
    store: ObjectStore,
    fetched: Future[bytes | None] | None = None,
) -> int | None:
    """Copy one original into ``zf``; ``None`` when the object is gone (nothing written).

    ``fetched``: the original already being fetched whole (its result re-raises a fetch
    error), else it is streamed in :data:`CHUNK_BYTES` chunks.
    """
    if fetched is not None:
        data = fetched.result()
        if data is None:
            return None
        chunks: Iterator[bytes] = iter((data,))
        reader: IO[bytes] | None = None
    else:
        try:
            reader = store.open_read(entry.key)
        except NotFoundError:
            return None
        chunks = _chunks(reader)
    info = zipfile.ZipInfo(entry.name, date_time=time.gmtime()[:6])
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16  # rw-r--r-- when unzipped on Unix
    copied = 0
    try:
        with zf.open(info, mode="w", force_zip64=True) as out:
            for chunk in chunks:
                out.write(chunk)
                copied += len(chunk)
    finally:
        if reader is not None:
            reader.close()
    return copied
