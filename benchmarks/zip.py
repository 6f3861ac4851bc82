"""ZIP throughput and peak memory for real photo sizes, on the local stack.

Starts the local stack (moto server + DynamoDB Local, :func:`findme.local.stack.start_stack`;
durable like ``make run``, or ``--in-memory``), uploads the real photos of ``--photos``
(faces-dev: 64 phone and web photos, 20 KB to 2.5 MB, 360 KB on average), creates
``--entries`` image items cycling over them (each entry is its own original object, as in a
real event) and a download job over them, then runs
:func:`findme.services.archive.build_archive` while a thread samples this process's RSS.
Checks the result through ranged GETs (central directory, first and last entries' SHA-256).

Prints JSON: archive bytes, seconds, MB/s (10^6 bytes of archive per second), RSS baseline,
peak and delta in MiB, and whether the peak stayed under ``--ceiling-mib``. The moto server
keeps objects in its own process; that process is not what is measured.

    .venv/bin/python benchmarks/zip.py [--entries 1500] [--ceiling-mib 256] [--in-memory]
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
    args = parser.parse_args()
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))

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

            sampler = RssSampler()
            baseline = sampler.peak
            sampler.start()
            started = time.perf_counter()
            result = build_archive(job_id, store=store, metadata=metadata, settings=settings)
            seconds = time.perf_counter() - started
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
