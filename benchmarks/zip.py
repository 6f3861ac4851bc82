"""ZIP throughput and peak memory: a > 1 GB archive streamed from repeated S3 objects.

Starts the local stack (moto server + DynamoDB Local, :func:`findme.local.stack.start_stack`),
uploads one random object of ``--object-mib`` MiB (streamed, never held whole), creates
``--copies`` image items that all point at it and a download job over them, then runs
:func:`findme.services.archive.build_archive` while a thread samples this process's RSS.
Checks the result through ranged GETs (central directory, first and last entries' SHA-256).

Prints JSON: archive bytes, seconds, MB/s (10^6 bytes of archive per second), RSS baseline,
peak and delta in MiB, and whether the peak stayed under ``--ceiling-mib``. The moto server
keeps objects in its own memory; that process is not what is measured.

    .venv/bin/python benchmarks/zip.py [--object-mib 48] [--copies 24] [--ceiling-mib 300]
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
    parser.add_argument("--object-mib", type=int, default=48)
    parser.add_argument("--copies", type=int, default=24)
    parser.add_argument("--ceiling-mib", type=int, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="findme-zipbench-") as tmp:
        stack = start_stack(Path(tmp), qdrant_path=":memory:")
        try:
            os.environ.update(stack.env)
            settings = stack.settings()
            store = S3ObjectStore(settings)
            metadata = DynamoMetadataStore(settings)
            group_id = "bench"
            metadata.put_group(Group(group_id=group_id, name="bench", owner_id="bench"))
            source_key = f"originals/{group_id}/{uuid.uuid4()}.jpg"
            sha = hashlib.sha256()
            with store.open_multipart_writer(source_key, "image/jpeg") as out:
                for _ in range(args.object_mib):
                    chunk = os.urandom(MIB)
                    sha.update(chunk)
                    out.write(chunk)
            image_ids = []
            for i in range(args.copies):
                image_id = str(uuid.uuid4())
                metadata.put_image(
                    Image(
                        image_id=image_id,
                        group_id=group_id,
                        s3_key=source_key,
                        status=ImageStatus.PROCESSED,
                        file_name=f"photo-{i:03d}.jpg",
                        size_bytes=args.object_mib * MIB,
                    )
                )
                image_ids.append(image_id)
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
                entries_ok = len(infos) == args.copies and all(
                    i.file_size == args.object_mib * MIB for i in infos
                )
                digests_ok = all(
                    hashlib.sha256(zf.read(info)).hexdigest() == sha.hexdigest()
                    for info in (infos[0], infos[-1])
                )
            job = metadata.get_job(job_id)
            figures = {
                "benchmark": "zip",
                "entries": len(infos),
                "object_mib": args.object_mib,
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
