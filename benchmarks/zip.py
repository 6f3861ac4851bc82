"""ZIP throughput and peak memory for real photo sizes, on the local stack.

Starts the local stack (moto server + DynamoDB Local, :func:`findme.local.stack.start_stack`;
durable like ``make run``, or ``--in-memory``), uploads the real photos of ``--photos``
(faces-dev: 64 phone and web photos, 20 KB to 2.5 MB, 360 KB on average), creates
``--entries`` image items cycling over them (each entry is its own original object, as in a
real event) and a download job over them, then runs
:func:`findme.services.archive.build_archive` while a thread samples this process's RSS.
Checks the result through ranged GETs (central directory, first and last entries' SHA-256).

Prints JSON: archive bytes, seconds, MB/s (10^6 bytes of archive per second), the CPU
seconds of this process and of the moto server during the build, RSS baseline, peak and delta
in MiB, and whether the peak stayed under ``--ceiling-mib``. The moto server keeps objects in
its own process; its memory is not what is measured.

``--null-s3``: no server at all. The same :class:`~findme.adapters.s3.S3ObjectStore` (its
multipart writer, its readers) over a client that serves the photos from memory and drops the
uploaded parts, and the metadata in memory: the builder's own ceiling.

    .venv/bin/python benchmarks/zip.py [--entries 1500] [--ceiling-mib 256]
        [--in-memory | --null-s3]
"""

from __future__ import annotations

import os

# JSON on stdout only: Powertools logs go to stdout too (set before findme is imported).
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import argparse
import hashlib
import io
import json
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import boto3
import psutil
from findme.adapters.dynamodb import DynamoMetadataStore
from findme.adapters.s3 import S3ObjectStore
from findme.config import Settings
from findme.domain.records import Group, Image, ImageStatus, Job, JobType
from findme.local.stack import start_stack
from findme.services.archive import build_archive

MIB = 1024 * 1024
FACES_DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "faces-dev" / "images"


class RssSampler(threading.Thread):
    """Samples the process RSS every ``interval_s`` seconds; ``peak`` in bytes."""

    def __init__(self, interval_s: float = 0.02) -> None:
        super().__init__(daemon=True)
        self._proc = psutil.Process()
        self._halt = threading.Event()
        self._interval_s = interval_s
        self.peak = self._proc.memory_info().rss

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            self._halt.wait(self._interval_s)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return max(self.peak, self._proc.memory_info().rss)


class NullS3Client:
    """The slice of a boto3 S3 client the archive path calls, in memory: objects are served
    from ``objects``, multipart parts are counted and dropped."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.uploaded = 0
        self._lock = threading.Lock()

    def get_object(self, *, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:  # noqa: N803
        return {"Body": io.BytesIO(self.objects[Key])}

    def create_multipart_upload(self, **_: Any) -> dict[str, Any]:
        return {"UploadId": "null"}

    def upload_part(self, *, PartNumber: int, Body: bytes, **_: Any) -> dict[str, Any]:  # noqa: N803
        with self._lock:
            self.uploaded += len(Body)
        return {"ETag": f'"{PartNumber}"'}

    def put_object(self, *, Body: bytes, **_: Any) -> dict[str, Any]:  # noqa: N803
        with self._lock:
            self.uploaded += len(Body)
        return {}

    def complete_multipart_upload(self, **_: Any) -> dict[str, Any]:
        return {}

    def abort_multipart_upload(self, **_: Any) -> dict[str, Any]:
        return {}

    def generate_presigned_url(self, *_: Any, **__: Any) -> str:
        return "http://null/archive.zip"


class MemoryMetadata:
    """The repositories :func:`build_archive` uses, in memory."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.images: dict[str, Image] = {}

    def put_job(self, job: Job) -> None:
        self.jobs[job.job_id] = job

    def put_image(self, image: Image) -> None:
        self.images[image.image_id] = image

    def get_job(self, job_id: str) -> Job:
        return self.jobs[job_id]

    def update_job(self, job_id: str, **changes: Any) -> Job:
        for name, value in changes.items():
            setattr(self.jobs[job_id], name, value)
        return self.jobs[job_id]

    def add_job_progress(self, job_id: str, *, done: int = 0, failed: int = 0) -> None:
        self.jobs[job_id].done += done
        self.jobs[job_id].failed += failed

    def get_images(self, image_ids: Any) -> list[Image]:
        return [self.images[i] for i in image_ids if i in self.images]

    def list_images(self, group_id: str, **_: Any) -> Any:
        raise NotImplementedError

    def list_faces_of_person(self, person_id: str) -> Any:
        raise NotImplementedError


def cpu_seconds(proc: psutil.Process | None) -> float:
    if proc is None:
        return 0.0
    times = proc.cpu_times()
    return float(times.user + times.system)


def null_s3_run(photos: list[Path], entries: int, ceiling_mib: int) -> dict[str, Any]:
    """Build an archive of ``entries`` photos with no server: the builder's own ceiling."""
    settings = Settings(bucket="null", aws_region="us-east-1")
    objects: dict[str, bytes] = {}
    metadata = MemoryMetadata()
    image_ids = []
    contents = [p.read_bytes() for p in photos]
    for i in range(entries):
        data = contents[i % len(photos)]
        image_id = f"img-{i:05d}"
        key = f"originals/bench/{image_id}.jpg"
        objects[key] = data  # one bytes object per photo: the source holds the photo set once
        metadata.put_image(
            Image(
                image_id=image_id,
                group_id="bench",
                s3_key=key,
                status=ImageStatus.PROCESSED,
                file_name=f"photo-{i:04d}.jpg",
                size_bytes=len(data),
            )
        )
        image_ids.append(image_id)
    job_id = str(uuid.uuid4())
    metadata.put_job(
        Job(
            job_id=job_id,
            job_type=JobType.DOWNLOAD,
            group_id="bench",
            params={"image_ids": image_ids},
        )
    )
    store = S3ObjectStore(settings)
    client = NullS3Client(objects)
    store._client = client  # type: ignore[assignment]
    sampler = RssSampler()
    baseline = sampler.peak
    sampler.start()
    cpu0 = cpu_seconds(psutil.Process())
    started = time.perf_counter()
    result = build_archive(job_id, store=store, metadata=metadata, settings=settings)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    cpu = cpu_seconds(psutil.Process()) - cpu0
    peak = sampler.stop()
    return {
        "benchmark": "zip",
        "entries": result.files,
        "local_stack": "null S3 (in-memory source and sink)",
        "archive_bytes": client.uploaded,
        "archive_gb": round(client.uploaded / 1e9, 3),
        "seconds": round(seconds, 2),
        "mb_per_s": round(client.uploaded / 1e6 / seconds, 1),
        "client_cpu_s": round(cpu, 2),
        "mb_per_client_cpu_s": round(client.uploaded / 1e6 / max(cpu, 1e-6), 1),
        "rss_baseline_mib": round(baseline / MIB, 1),
        "rss_peak_mib": round(peak / MIB, 1),
        "rss_delta_mib": round((peak - baseline) / MIB, 1),
        "ceiling_mib": ceiling_mib,
        "within_ceiling": peak < ceiling_mib * MIB,
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


class RangedReader(io.RawIOBase):
    """A seekable read-only view of an S3 object through ranged GETs (for zipfile)."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self._client, self._bucket, self._key = client, bucket, key
        self._size = int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._size - self._pos)
        if n <= 0:
            return 0
        end = self._pos + n - 1
        body = self._client.get_object(
            Bucket=self._bucket, Key=self._key, Range=f"bytes={self._pos}-{end}"
        )["Body"].read()
        buffer[: len(body)] = body
        self._pos += len(body)
        return len(body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=Path, default=FACES_DEV)
    parser.add_argument("--entries", type=int, default=1500)
    parser.add_argument("--ceiling-mib", type=int, default=256)
    parser.add_argument("--in-memory", action="store_true", help="moto and DynamoDB in memory")
    parser.add_argument("--null-s3", action="store_true", help="no server: the builder alone")
    args = parser.parse_args()
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    if args.null_s3:
        figures = null_s3_run(photos, args.entries, args.ceiling_mib)
        print(json.dumps(figures, indent=2))
        return 0 if figures["within_ceiling"] else 1

    with tempfile.TemporaryDirectory(prefix="findme-zipbench-") as tmp:
        stack = start_stack(Path(tmp), qdrant_path=":memory:", persist=not args.in_memory)
        try:
            os.environ.update(stack.env)
            settings = stack.settings()
            store = S3ObjectStore(settings)
            metadata = DynamoMetadataStore(settings)
            group_id = "bench"
            metadata.put_group(Group(group_id=group_id, name="bench", owner_id="bench"))
            image_ids: list[str] = []
            sources: list[bytes] = []
            for i in range(args.entries):
                data = photos[i % len(photos)].read_bytes()
                image_id = str(uuid.uuid4())
                key = f"originals/{group_id}/{image_id}.jpg"
                store.put(key, data, "image/jpeg")
                metadata.put_image(
                    Image(
                        image_id=image_id,
                        group_id=group_id,
                        s3_key=key,
                        status=ImageStatus.PROCESSED,
                        file_name=f"photo-{i:04d}.jpg",
                        size_bytes=len(data),
                    )
                )
                image_ids.append(image_id)
                if i in (0, args.entries - 1):
                    sources.append(data)
            job_id = str(uuid.uuid4())
            metadata.put_job(
                Job(
                    job_id=job_id,
                    job_type=JobType.DOWNLOAD,
                    group_id=group_id,
                    params={"image_ids": image_ids},
                )
            )

            server = psutil.Process(stack.pids["moto"])
            sampler = RssSampler()
            baseline = sampler.peak
            sampler.start()
            cpu0, server_cpu0 = cpu_seconds(psutil.Process()), cpu_seconds(server)
            started = time.perf_counter()
            result = build_archive(job_id, store=store, metadata=metadata, settings=settings)
            seconds = time.perf_counter() - started
            cpu = cpu_seconds(psutil.Process()) - cpu0
            server_cpu = cpu_seconds(server) - server_cpu0
            peak = sampler.stop()

            client = boto3.client(
                "s3", endpoint_url=settings.aws_endpoint_url, region_name=settings.aws_region
            )
            reader = RangedReader(client, settings.bucket, result.key)
            archive_bytes = reader._size
            with zipfile.ZipFile(io.BufferedReader(reader, buffer_size=4 * MIB)) as zf:
                infos = zf.infolist()
                entries_ok = len(infos) == args.entries
                digests_ok = [
                    hashlib.sha256(zf.read(info)).digest() for info in (infos[0], infos[-1])
                ] == [hashlib.sha256(data).digest() for data in sources]
            job = metadata.get_job(job_id)
            figures = {
                "benchmark": "zip",
                "entries": len(infos),
                "mean_entry_kb": round(archive_bytes / max(len(infos), 1) / 1000, 1),
                "local_stack": "in memory" if args.in_memory else "durable (make run)",
                "archive_bytes": archive_bytes,
                "archive_gb": round(archive_bytes / 1e9, 3),
                "seconds": round(seconds, 2),
                "mb_per_s": round(archive_bytes / 1e6 / seconds, 1),
                "client_cpu_s": round(cpu, 2),
                "server_cpu_s": round(server_cpu, 2),
                "mb_per_server_cpu_s": round(archive_bytes / 1e6 / max(server_cpu, 1e-6), 1),
                "rss_baseline_mib": round(baseline / MIB, 1),
                "rss_peak_mib": round(peak / MIB, 1),
                "rss_delta_mib": round((peak - baseline) / MIB, 1),
                "ceiling_mib": args.ceiling_mib,
                "within_ceiling": peak < args.ceiling_mib * MIB,
                "over_4gib_zip64_end_records": archive_bytes > 0xFFFFFFFF,
                "entries_ok": entries_ok,
                "sha256_first_last_ok": digests_ok,
                "job": {"status": str(job.status), "total": job.total, "done": job.done},
                "cpu_count": os.cpu_count(),
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
            print(json.dumps(figures, indent=2))
            ok = figures["within_ceiling"] and entries_ok and digests_ok
            return 0 if ok else 1
        finally:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
