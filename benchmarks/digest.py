"""Digest throughput on faces-dev: images/s and ms per face, at 1 and 2 onnxruntime threads.

Runs the real digest service (:func:`findme.services.digest.digest_object`: S3 read, decode,
detect, align, embed, quality, attributes, thumbnails, DynamoDB + Qdrant writes, placing
new faces) on every faces-dev photo, against the local stack (moto server + DynamoDB Local,
Qdrant in memory). Configurations: ``ort_threads`` x concurrent digest workers, default
``1x1``, ``2x1`` and ``1x2``. Each configuration digests every photo once into its own group
after one warm-up photo (model loading is not timed; it is reported as ``load_s``).

With ``--local-stack`` the stack is the one ``make run`` starts: durable (DynamoDB Local on
disk, moto snapshots each write before answering) with the vector index on disk
(``--engine edge``, the default, or ``client``: qdrant-client local mode, the engine before).
Each run reports the per-photo stage medians (``timings_ms_median``: read, analyze, render,
render_put, save, assign (placing new faces: the stage keeps its name), total) and
``save_share``, the median of save / total per photo.

Each run also reports ``cpu_ms_per_image`` (this process's CPU time per photo: engine, decode,
renditions, clients; the local servers run elsewhere) and ``cores_used`` (CPU time / wall
time): on a shared machine these say what a layout costs, where wall time says mostly what
the neighbours did. ``--summary`` adds the median per configuration over the repeats (run
them interleaved with ``--repeat``).

Prints JSON. The machine is shared: the 1-minute load average is reported with each run.

    .venv/bin/python benchmarks/digest.py [--configs 1x1,2x1,1x2] [--limit N]
        [--local-stack [--engine edge|client]] [--repeat R] [--summary]
"""

from __future__ import annotations

import os

# JSON on stdout only: Powertools logs go to stdout too (set before findme is imported).
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from findme.adapters.dynamodb import DynamoMetadataStore
from findme.adapters.onnx_engine import OnnxFaceEngine
from findme.adapters.s3 import S3ObjectStore
from findme.domain.keys import KeyScheme
from findme.local.stack import start_stack
from findme.ports import VectorIndex
from findme.services.digest import DigestDeps, DigestOutcome, digest_object
from findme.wiring import build_vector_index

REPO_ROOT = Path(__file__).resolve().parents[1]
FACES_DEV = Path(os.environ.get("FINDME_FACES_DEV", REPO_ROOT.parent / "shared/data/faces-dev"))


STAGES = ("read", "analyze", "render", "render_put", "save", "assign", "total")


def run_config(
    stack: Any,
    photos: list[Path],
    threads: int,
    workers: int,
    vectors: VectorIndex,
    group: str,
) -> dict[str, Any]:
    settings = stack.settings(ort_threads=threads)
    store = S3ObjectStore(settings)
    engine = OnnxFaceEngine(settings)
    t0 = time.perf_counter()
    load = getattr(engine, "load", None)
    if callable(load):
        load()
    deps = DigestDeps(
        store=store,
        metadata=DynamoMetadataStore(settings),
        vectors=vectors,
        engine=engine,
        settings=settings,
    )
    keys = KeyScheme.from_settings(settings)
    object_keys = []
    for i, path in enumerate(photos):
        key = keys.original(group, f"img{i:03d}", path.suffix)
        store.put(key, path.read_bytes(), "image/jpeg", metadata={"file-name": path.name})
        object_keys.append(key)
    digest_object(object_keys[0], deps)  # warm-up: sessions, first-run allocations
    load_s = time.perf_counter() - t0
    load_avg_before = os.getloadavg()[0]
    cpu_before = time.process_time()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes: list[DigestOutcome] = list(
            pool.map(lambda k: digest_object(k, deps, force=True), object_keys)
        )
    seconds = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_before
    faces = sum(o.face_count for o in outcomes)
    analyze_ms = sum(o.timings_ms.get("analyze", 0.0) for o in outcomes)
    return {
        "ort_threads": threads,
        "workers": workers,
        "images": len(outcomes),
        "processed": sum(1 for o in outcomes if o.status == "processed"),
        "faces": faces,
        "seconds": round(seconds, 2),
        "images_per_s": round(len(outcomes) / seconds, 2),
        "ms_per_image": round(seconds * 1000 / len(outcomes), 1),
        "ms_per_face": round(seconds * 1000 / max(faces, 1), 1),
        # CPU of this process (engine, decode, renditions, clients; not the servers'): what a
        # layout costs per photo whatever the machine's load, and how many cores it kept busy.
        "cpu_ms_per_image": round(cpu_s * 1000 / len(outcomes), 1),
        "cores_used": round(cpu_s / seconds, 2),
        "engine_ms_per_image": round(analyze_ms / len(outcomes), 1),
        "load_s": round(load_s, 2),
        "timings_ms_median": {
            stage: round(statistics.median(o.timings_ms.get(stage, 0.0) for o in outcomes), 1)
            for stage in STAGES
        },
        "save_share": round(
            statistics.median(
                o.timings_ms.get("save", 0.0) / o.timings_ms["total"]
                for o in outcomes
                if o.timings_ms.get("total")
            ),
            3,
        ),
        "load_avg_1m": [round(load_avg_before, 2), round(os.getloadavg()[0], 2)],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configs", default="1x1,2x1,1x2", help="THREADSxWORKERS,...")
    parser.add_argument("--limit", type=int, default=0, help="only the first N photos")
    parser.add_argument(
        "--local-stack", action="store_true", help="durable stack, vectors on disk (make run's)"
    )
    parser.add_argument("--engine", choices=["edge", "client"], default="edge")
    parser.add_argument("--repeat", type=int, default=1, help="run the configurations R times")
    parser.add_argument("--summary", action="store_true", help="medians per configuration")
    args = parser.parse_args()
    photos = sorted((FACES_DEV / "images").glob("*.jpg"))
    if args.limit:
        photos = photos[: args.limit]
    results = []
    with tempfile.TemporaryDirectory(prefix="findme-digestbench-") as tmp:
        durable = args.local_stack
        qdrant_path = str(Path(tmp) / "qdrant") if durable else ":memory:"
        stack = start_stack(Path(tmp), qdrant_path=qdrant_path, persist=durable)
        try:
            os.environ.update(stack.env)
            engine = args.engine if durable else "client"
            vectors = build_vector_index(stack.settings(qdrant_local_engine=engine))
            for repeat in range(args.repeat):
                for config in args.configs.split(","):
                    threads, workers = (int(x) for x in config.lower().split("x"))
                    group = f"bench-{threads}x{workers}-{repeat}"
                    result = run_config(stack, photos, threads, workers, vectors, group)
                    results.append(
                        {"stack": "local" if durable else "memory", "engine": engine} | result
                    )
                    print(json.dumps(results[-1]), file=sys.stderr)
        finally:
            stack.stop()
    summary = {}
    if args.summary:
        for config in args.configs.split(","):
            threads, workers = (int(x) for x in config.lower().split("x"))
            runs = [r for r in results if (r["ort_threads"], r["workers"]) == (threads, workers)]
            summary[config] = {
                name: statistics.median(r[name] for r in runs)
                for name in ("images_per_s", "ms_per_image", "cpu_ms_per_image", "cores_used")
            }
    print(
        json.dumps(
            {
                "benchmark": "digest",
                "photos": len(photos),
                "cpu_count": os.cpu_count(),
                "runs": results,
                **({"median_by_config": summary} if summary else {}),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
