"""Download ZIPs streamed through the S3 multipart writer (moto in-process): names, missing."""

from __future__ import annotations

import io
import os
import threading
import time
import zipfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from findme.adapters.s3 import S3ObjectStore
from findme.config import Settings
from findme.domain.records import Face, Image, Job, JobStatus, JobType, Page
from findme.errors import DependencyError, InvalidInputError, NotFoundError
from findme.services import archive
from findme.services.archive import build_archive, unique_names
from moto import mock_aws


class JobsAndImages:
    """The slice of MetadataStore the archive service uses, in memory."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.images: dict[str, Image] = {}
        self.faces: list[Face] = []

    def get_job(self, job_id: str) -> Job:
        return self.jobs[job_id]

    def update_job(self, job_id: str, **changes: Any) -> Job:
        job = self.jobs[job_id]
        for name, value in changes.items():
            setattr(job, name, value)
        return job

    def add_job_progress(self, job_id: str, *, done: int = 0, failed: int = 0) -> None:
        self.jobs[job_id].done += done
        self.jobs[job_id].failed += failed

    def get_image(self, image_id: str) -> Image:
        if image_id not in self.images:
            raise NotFoundError("no image")
        return self.images[image_id]

    def get_images(self, image_ids: Iterable[str]) -> list[Image]:
        return [self.images[i] for i in dict.fromkeys(image_ids) if i in self.images]

    def list_images(
        self, group_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Image]:
        items = [i for i in self.images.values() if i.group_id == group_id]
        start = int(cursor or 0)
        end = start + limit
        return Page(items[start:end], str(end) if end < len(items) else None)

    def list_faces_of_person(self, person_id: str) -> list[Face]:
        return [f for f in self.faces if f.person_id == person_id]


@pytest.fixture
def s3() -> Iterator[tuple[S3ObjectStore, Settings]]:
    with mock_aws():
        settings = Settings(bucket="zip-test", aws_region="us-east-1")
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="zip-test")
        yield S3ObjectStore(settings), settings


def add_image(
    meta: JobsAndImages,
    store: S3ObjectStore,
    image_id: str,
    name: str,
    data: bytes,
    *,
    upload: bool = True,
) -> None:
    key = f"originals/g1/{image_id}.jpg"
    meta.images[image_id] = Image(image_id=image_id, group_id="g1", s3_key=key, file_name=name)
    if upload:
        store.put(key, data, "image/jpeg")


def test_zip_has_exactly_the_selected_files_byte_identical(
    s3: tuple[S3ObjectStore, Settings],
) -> None:
    # Given four photos, two with the same file name, one original missing from S3,
    # and one photo (over 5 MiB) that forces several multipart parts
    store, settings = s3
    meta = JobsAndImages()
    blobs = {
        "a": os.urandom(1000),
        "b": os.urandom(2000),
        "c": os.urandom(6 * 1024 * 1024 + 17),
    }
    add_image(meta, store, "a", "IMG_1.jpg", blobs["a"])
    add_image(meta, store, "b", "img_1.JPG", blobs["b"])
    add_image(meta, store, "c", "../../etc/passwd", blobs["c"])
    add_image(meta, store, "d", "gone.jpg", b"", upload=False)
    meta.jobs["job1"] = Job(
        job_id="job1",
        job_type=JobType.DOWNLOAD,
        group_id="g1",
        params={"image_ids": ["a", "b", "c", "d", "nope"]},
    )
    # When the archive is built
    result = build_archive("job1", store=store, metadata=meta, settings=settings)
    # Then the ZIP holds exactly the three present photos, byte-identical, with unique safe names
    with zipfile.ZipFile(io.BytesIO(store.get("archives/job1.zip"))) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert names == ["IMG_1.jpg", "img_1 (2).JPG", "passwd"]
        assert [zf.read(n) for n in names] == [blobs["a"], blobs["b"], blobs["c"]]
        # streamed: sizes and CRC come after the data (data descriptor flag, APPNOTE 4.4.4 bit 3)
        assert all(info.flag_bits & 0x08 for info in zf.infolist())
    # And the missing ones are listed, the job is ready with a URL and progress counts
    assert sorted(result.missing) == ["d", "nope"]
    job = meta.jobs["job1"]
    assert job.status is JobStatus.READY
    assert (job.total, job.done, job.failed) == (5, 3, 2)
    assert job.result["url"].startswith("https://")
    assert "archives/job1.zip" in job.result["url"]
    assert job.expires_at is not None
    assert (result.url_expires_at - job.updated_at).days in (6, 7)


def test_zip_of_a_person_and_of_a_whole_group(s3: tuple[S3ObjectStore, Settings]) -> None:
    # Given a group of three photos, a person appearing in two of them (twice in one)
    store, settings = s3
    meta = JobsAndImages()
    for i in range(3):
        add_image(meta, store, f"i{i}", f"p{i}.jpg", bytes([i]) * 10)
    for face_id, image_id in (("f1", "i0"), ("f2", "i2"), ("f3", "i2")):
        meta.faces.append(
            Face(
                face_id=face_id,
                image_id=image_id,
                group_id="g1",
                face_index=0,
                bbox={},
                landmarks={},
                confidence=1,
                blur_score=1,
                brightness_score=1,
                overall_quality=1,
                quality_grade="A",
                person_id="p1",
            )
        )
    meta.jobs["jp"] = Job(
        job_id="jp", job_type=JobType.DOWNLOAD, group_id="g1", params={"person_id": "p1"}
    )
    meta.jobs["jg"] = Job(job_id="jg", job_type=JobType.DOWNLOAD, group_id="g1")
    # When both archives are built
    person = build_archive("jp", store=store, metadata=meta, settings=settings)
    group = build_archive("jg", store=store, metadata=meta, settings=settings)
    # Then the person's ZIP has its two photos once each, the group's all three
    assert (person.files, group.files) == (2, 3)
    with zipfile.ZipFile(io.BytesIO(store.get("archives/jp.zip"))) as zf:
        assert sorted(zf.namelist()) == ["p0.jpg", "p2.jpg"]


def test_not_a_download_job_is_rejected(s3: tuple[S3ObjectStore, Settings]) -> None:
    store, settings = s3
    meta = JobsAndImages()
    meta.jobs["j"] = Job(job_id="j", job_type=JobType.CLUSTER, group_id="g1")
    with pytest.raises(InvalidInputError):
        build_archive("j", store=store, metadata=meta, settings=settings)


def test_unique_names_are_case_insensitive_and_never_empty() -> None:
    entries = unique_names(
        [("i1", "originals/g/i1.png", ""), ("i2", "k", "A.jpg"), ("i3", "k", "a.jpg")]
    )
    assert [e.name for e in entries] == ["i1.png", "A.jpg", "a (2).jpg"]


def test_prefetch_is_bounded_and_large_originals_stream() -> None:
    # Given 20 small originals and one over the prefetch size, behind a slow store
    class SlowStore:
        def __init__(self) -> None:
            self.lock = threading.Lock()
            self.in_flight = 0
            self.most = 0
            self.streamed: list[str] = []

        def get(self, key: str) -> bytes:
            with self.lock:
                self.in_flight += 1
                self.most = max(self.most, self.in_flight)
            time.sleep(0.01)
            with self.lock:
                self.in_flight -= 1
            return key.encode()

        def open_read(self, key: str) -> io.BytesIO:
            self.streamed.append(key)
            return io.BytesIO(key.encode())

    store = SlowStore()
    big = archive.PREFETCH_MAX_OBJECT_BYTES + 1
    entries = [archive.ArchiveEntry(f"i{n}", f"k{n}", f"{n}.jpg", 10) for n in range(20)]
    entries.insert(7, archive.ArchiveEntry("big", "kbig", "big.jpg", big))
    # When they are copied in order with the fetches running ahead
    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w") as zf,
        ThreadPoolExecutor(archive.PREFETCH_OBJECTS) as pool,
    ):
        for entry, fetched in archive._prefetched(entries, store, pool):  # type: ignore[arg-type]
            archive._copy_entry(zf, entry, store, fetched)  # type: ignore[arg-type]
    # Then the archive keeps the order, at most PREFETCH_OBJECTS fetches ran at once, and
    # the large original was streamed in its turn, not held ahead
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == [e.name for e in entries]
        assert zf.read("big.jpg") == b"kbig"
    assert 1 < store.most <= archive.PREFETCH_OBJECTS
    assert store.streamed == ["kbig"]


def test_prefetch_buffer_bounds_the_bytes_held_ahead() -> None:
    # Given 12 originals of 10 MiB each (sizes from their image items), a buffer of 32 MiB
    # and room for 8 fetches
    mib = 1024 * 1024
    lock = threading.Lock()
    fetched: list[str] = []
    written: list[str] = []
    held_most = [0]

    class CountingStore:
        def get(self, key: str) -> bytes:
            with lock:
                fetched.append(key)
                held_most[0] = max(held_most[0], len(fetched) - len(written))
            return key.encode()

    entries = [archive.ArchiveEntry(f"i{n}", f"k{n}", f"{n}.jpg", 10 * mib) for n in range(12)]
    # When they are consumed one by one (each "written" before the next is asked for)
    with ThreadPoolExecutor(8) as pool:
        for entry, future in archive._prefetched(
            entries,
            CountingStore(),  # type: ignore[arg-type]
            pool,
            max_objects=8,
            buffer_bytes=32 * mib,
        ):
            assert future is not None
            assert future.result() == entry.key.encode()
            with lock:
                written.append(entry.key)
    # Then every entry came in order, and never more than 3 originals (30 MiB <= 32 MiB,
    # the one being written included) were fetched and not yet written
    assert written == [e.key for e in entries]
    assert held_most[0] <= 3


def test_an_original_bigger_than_the_buffer_still_goes_through() -> None:
    # Given a buffer smaller than one original (it is fetched alone, never stalls)
    entries = [archive.ArchiveEntry(f"i{n}", f"k{n}", f"{n}.jpg", 5_000) for n in range(3)]

    class Store:
        def get(self, key: str) -> bytes:
            return key.encode()

    with ThreadPoolExecutor(2) as pool:
        got = [
            (entry.key, future.result() if future else None)
            for entry, future in archive._prefetched(
                entries,
                Store(),  # type: ignore[arg-type]
                pool,
                buffer_bytes=1_000,
            )
        ]
    # Then each came, in order
    assert got == [(f"k{n}", f"k{n}".encode()) for n in range(3)]


def test_a_failed_fetch_fails_the_job_and_leaves_no_archive(
    s3: tuple[S3ObjectStore, Settings],
) -> None:
    # Given 30 photos (more than one part, with prefetching) where fetching the 20th fails
    store, settings = s3
    meta = JobsAndImages()
    payload = os.urandom(300_000)
    for n in range(30):
        add_image(meta, store, f"img{n:02d}", f"{n:02d}.jpg", payload)
        meta.images[f"img{n:02d}"].size_bytes = len(payload)

    small_parts = S3ObjectStore(settings, part_bytes=5 * 1024 * 1024)  # parts upload early

    class FailingStore:
        """The real store (5 MiB parts), except that one GetObject fails as S3 would."""

        def __getattr__(self, name: str) -> Any:
            return getattr(small_parts, name)

        def get(self, key: str) -> bytes:
            if key.endswith("img19.jpg"):
                raise DependencyError("S3 get failed: SlowDown", code="SlowDown")
            return small_parts.get(key)

    meta.jobs["j1"] = Job(
        job_id="j1",
        job_type=JobType.DOWNLOAD,
        group_id="g1",
        params={"image_ids": [f"img{n:02d}" for n in range(30)]},
    )
    # When the archive is built, Then the fetch's error comes out
    with pytest.raises(DependencyError):
        build_archive("j1", store=FailingStore(), metadata=meta, settings=settings)  # type: ignore[arg-type]
    # And the job is failed with the reason, no archive object exists, and no multipart
    # upload is left open
    job = meta.jobs["j1"]
    assert job.status is JobStatus.FAILED
    assert "SlowDown" in (job.error or "")
    client = boto3.client("s3", region_name="us-east-1")
    assert store.head("archives/j1.zip") is None
    assert client.list_multipart_uploads(Bucket="zip-test").get("Uploads", []) == []
