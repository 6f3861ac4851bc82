"""The local S3's own ceiling: GetObject and UploadPart throughput with plain boto3.

Starts the local stack's moto server (:func:`findme.local.stack.start_stack`; durable like
``make run``, or ``--in-memory``), puts ``--objects`` objects of the real photo sizes of
``--photos`` (faces-dev), then times, for each concurrency in ``--get-concurrency``, every
object fetched once with ``GetObject`` (a thread pool of boto3 calls, one shared client), and
for each concurrency in ``--part-concurrency`` ``--parts`` multipart parts of ``--part-mib``
MiB uploaded with ``UploadPart``. Nothing of FindMe's archive code runs: this is what the ZIP
builder could reach at best against this server.

Besides wall time it reports the CPU seconds the moto server process spent (``server_cpu_s``,
from ``/proc``) and this client process's (``client_cpu_s``), so the figures can be read on a
shared, noisy machine: MB per server CPU second is the server's own cost.

Prints JSON.

    .venv/bin/python benchmarks/s3_ceiling.py [--in-memory] [--objects 150]
        [--get-concurrency 1,6] [--part-concurrency 1,3] [--parts 12] [--part-mib 8]
"""

from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
from findme.adapters.s3 import build_client
from findme.local.stack import start_stack

MIB = 1024 * 1024
FACES_DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "faces-dev" / "images"


def _timed(server: psutil.Process, work: Callable[[], int]) -> tuple[float, float, float, int]:
    """Run ``work`` -> (wall s, server CPU s, client CPU s, bytes it moved)."""
    me = psutil.Process()
    s0, c0 = server.cpu_times(), me.cpu_times()
    started = time.perf_counter()
    moved = work()
    wall = time.perf_counter() - started
    s1, c1 = server.cpu_times(), me.cpu_times()
    server_cpu = (s1.user + s1.system) - (s0.user + s0.system)
    client_cpu = (c1.user + c1.system) - (c0.user + c0.system)
    return wall, server_cpu, client_cpu, moved


def _figures(
    kind: str, concurrency: int, wall: float, scpu: float, ccpu: float, n: int
) -> dict[str, Any]:
    return {
        "op": kind,
        "concurrency": concurrency,
        "mb": round(n / 1e6, 1),
        "seconds": round(wall, 2),
        "mb_per_s": round(n / 1e6 / wall, 1),
        "server_cpu_s": round(scpu, 2),
        "client_cpu_s": round(ccpu, 2),
        "mb_per_server_cpu_s": round(n / 1e6 / max(scpu, 1e-6), 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=Path, default=FACES_DEV)
    parser.add_argument("--objects", type=int, default=150)
    parser.add_argument("--in-memory", action="store_true")
    parser.add_argument("--get-concurrency", default="1,6")
    parser.add_argument("--part-concurrency", default="1,3")
    parser.add_argument("--parts", type=int, default=12)
    parser.add_argument("--part-mib", type=int, default=8)
    args = parser.parse_args()
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="findme-s3ceiling-") as tmp:
        stack = start_stack(Path(tmp), qdrant_path=":memory:", persist=not args.in_memory)
        try:
            os.environ.update(stack.env)
            settings = stack.settings()
            client = build_client(settings)
            server = psutil.Process(stack.pids["moto"])
            keys = []
            for i in range(args.objects):
                key = f"ceiling/{i:05d}.jpg"
                client.put_object(
                    Bucket=settings.bucket, Key=key, Body=photos[i % len(photos)].read_bytes()
                )
                keys.append(key)

            def get(key: str) -> int:
                return len(client.get_object(Bucket=settings.bucket, Key=key)["Body"].read())

            for c in (int(x) for x in args.get_concurrency.split(",")):
                with ThreadPoolExecutor(c) as pool:
                    wall, scpu, ccpu, n = _timed(server, lambda: sum(pool.map(get, keys)))
                results.append(_figures("GetObject", c, wall, scpu, ccpu, n))

            body = os.urandom(args.part_mib * MIB)
            for c in (int(x) for x in args.part_concurrency.split(",")):
                upload = client.create_multipart_upload(Bucket=settings.bucket, Key=f"mp-{c}")
                upload_id = upload["UploadId"]

                def part(number: int, key: str = f"mp-{c}", uid: str = upload_id) -> int:
                    client.upload_part(
                        Bucket=settings.bucket,
                        Key=key,
                        UploadId=uid,
                        PartNumber=number,
                        Body=body,
                    )
                    return len(body)

                with ThreadPoolExecutor(c) as pool:
                    wall, scpu, ccpu, n = _timed(
                        server, lambda: sum(pool.map(part, range(1, args.parts + 1)))
                    )
                client.abort_multipart_upload(
                    Bucket=settings.bucket, Key=f"mp-{c}", UploadId=upload_id
                )
                results.append(_figures("UploadPart", c, wall, scpu, ccpu, n))
        finally:
            stack.stop()
    print(
        json.dumps(
            {
                "benchmark": "s3_ceiling",
                "local_stack": "in memory" if args.in_memory else "durable (make run)",
                "objects": args.objects,
                "mean_object_kb": round(
                    sum(photos[i % len(photos)].stat().st_size for i in range(args.objects))
                    / args.objects
                    / 1000,
                    1,
                ),
                "part_mib": args.part_mib,
                "cpu_count": os.cpu_count(),
                "runs": results,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
