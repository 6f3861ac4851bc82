"""The cost of photo previews in digest: time per photo with and without the renditions.

Runs the real digest service (:func:`findme.services.digest.digest_object`: S3 read, decode,
detect, align, embed, quality, attributes, face thumbnails, DynamoDB + Qdrant writes,
placing new faces) on every faces-dev photo against the local stack, once with the photo's
thumbnail (320 px) and preview (1,280 px) rendered and written to S3, once without (digest's
``_write_renditions`` step replaced by a no-op: digest as it was before). Paired: every photo
is digested both ways back to back, the order flipped every round, so that load from others
on the shared machine hits both alike. Reports per-photo means and medians, the extra
time in percent (the rendition budget of docs/compatibility.md: under 15 %), the
renditions' own step time
(``timings_ms["render"]``: resize + JPEG; ``render_put``: both S3 puts; in a thread that
overlaps the models), and their sizes. moto runs without its durable snapshots by default
(``--persist`` turns them on): on AWS a put waits on the network, it does not spend this
machine's CPU on fsyncs and snapshots, which would charge previews for the local stack.

Prints JSON. ``.venv/bin/python benchmarks/previews.py [--rounds 2] [--limit N]``
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
from pathlib import Path
from typing import Any

from findme.adapters.dynamodb import DynamoMetadataStore
from findme.adapters.onnx_engine import OnnxFaceEngine
from findme.adapters.qdrant import QdrantVectorIndex
from findme.adapters.s3 import S3ObjectStore
from findme.domain.keys import KeyScheme
from findme.local.stack import start_stack
from findme.services import digest as digest_module
from findme.services.digest import DigestDeps, digest_object

REPO_ROOT = Path(__file__).resolve().parents[1]
FACES_DEV = Path(os.environ.get("FINDME_FACES_DEV", REPO_ROOT.parent / "shared/data/faces-dev"))
WITH_RENDITIONS = digest_module._write_renditions


def _without(*_: Any) -> dict[str, float]:
    return {}


def digest_once(deps: DigestDeps, key: str, renditions: bool) -> dict[str, float]:
    digest_module._write_renditions = WITH_RENDITIONS if renditions else _without  # type: ignore[assignment]
    started = time.perf_counter()
    outcome = digest_object(key, deps, force=True)
    return {
        "total_ms": (time.perf_counter() - started) * 1000,
        "render_ms": outcome.timings_ms.get("render", 0.0),
        "put_ms": outcome.timings_ms.get("render_put", 0.0),
        "save_ms": outcome.timings_ms.get("save", 0.0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2, help="alternating on/off rounds")
    parser.add_argument("--limit", type=int, default=0, help="only the first N photos")
    parser.add_argument("--persist", action="store_true", help="moto with durable snapshots")
    args = parser.parse_args()
    photos = sorted((FACES_DEV / "images").glob("*.jpg"))
    if args.limit:
        photos = photos[: args.limit]
    timings: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    sizes: dict[str, list[int]] = {"thumbnail": [], "preview": [], "original": []}
    with tempfile.TemporaryDirectory(prefix="findme-previewbench-") as tmp:
        stack = start_stack(Path(tmp), qdrant_path=":memory:", persist=args.persist)
        try:
            os.environ.update(stack.env)
            settings = stack.settings(qdrant_path=":memory:")
            vectors = QdrantVectorIndex(settings)
            vectors.ensure_collection()
            engine = OnnxFaceEngine(settings)
            engine.load()
            store = S3ObjectStore(settings)
            deps = DigestDeps(
                store=store,
                metadata=DynamoMetadataStore(settings),
                vectors=vectors,
                engine=engine,
                settings=settings,
            )
            scheme = KeyScheme.from_settings(settings)
            keys = []
            for i, path in enumerate(photos):
                key = scheme.original("bench-previews", f"img{i:03d}", path.suffix)
                store.put(key, path.read_bytes(), "image/jpeg", metadata={"file-name": path.name})
                keys.append(key)
                sizes["original"].append(path.stat().st_size)
            for key in keys[:2]:  # warm-up: sessions, first allocations
                digest_once(deps, key, renditions=True)
            # Paired: each photo without then with (order flipped every round), so a load
            # spike from the shared machine hits both modes of the same photo alike.
            for round_no in range(args.rounds):
                for key in keys:
                    for renditions in (False, True) if round_no % 2 == 0 else (True, False):
                        timings[renditions].append(digest_once(deps, key, renditions))
            for i in range(len(keys)):
                image = deps.metadata.get_image(f"img{i:03d}")
                sizes["thumbnail"].append(len(store.get(image.thumbnail_key or "")))
                sizes["preview"].append(len(store.get(image.preview_key or "")))
        finally:
            digest_module._write_renditions = WITH_RENDITIONS  # type: ignore[assignment]
            stack.stop()

    def mean(values: list[float]) -> float:
        return round(statistics.fmean(values), 1)

    before = mean([t["total_ms"] for t in timings[False]])
    after = mean([t["total_ms"] for t in timings[True]])
    median_before = statistics.median(t["total_ms"] for t in timings[False])
    median_after = statistics.median(t["total_ms"] for t in timings[True])
    report = {
        "benchmark": "previews",
        "photos": len(photos),
        "rounds": args.rounds,
        "moto_persist": args.persist,
        "cpu_count": os.cpu_count(),
        "ms_per_photo_without_previews": before,
        "ms_per_photo_with_previews": after,
        "extra_ms_per_photo": round(after - before, 1),
        "extra_percent": round(100 * (after - before) / before, 1),
        "median_ms_per_photo": {"without": round(median_before, 1), "with": round(median_after, 1)},
        "extra_percent_of_medians": round(100 * (median_after - median_before) / median_before, 1),
        "render_step_ms_per_photo": {
            "mean": mean([t["render_ms"] for t in timings[True]]),
            "median": round(statistics.median(t["render_ms"] for t in timings[True]), 1),
            "max": round(max(t["render_ms"] for t in timings[True]), 1),
        },
        "render_put_ms_per_photo": mean([t["put_ms"] for t in timings[True]]),
        "save_ms_per_photo": {
            "without": mean([t["save_ms"] for t in timings[False]]),
            "with": mean([t["save_ms"] for t in timings[True]]),
        },
        "mean_bytes": {k: round(statistics.fmean(v)) for k, v in sizes.items()},
        "budget_percent": 15,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
