"""Face engine benchmark on faces-dev: per-photo decode/detect/embed ms, faces, load s, peak RSS.

Prints one JSON document. Usage::

    .venv/bin/python benchmarks/face_engine.py [--threads 1,2] [--limit N] [--attributes]

Each thread count gets a fresh engine (sessions created by ``load()``, timed), one warm-up
photo, then every photo of ``../shared/data/faces-dev/images`` analysed as the digest does
(detect, align, embed, quality; ``--attributes`` adds age/gender/emotion). Stage times are
wall-clock ms; ``cpu_ms`` is the process CPU time per photo (all threads), which stays
meaningful when other processes share the machine. Peak RSS is the process's maximum
resident set (``getrusage``), so it covers every configuration run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = (
    Path(os.environ.get("FINDME_FACES_DEV", REPO.parent / "shared/data/faces-dev")) / "images"
)


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "mean": round(statistics.fmean(values), 2),
        "p50": round(statistics.median(values), 2),
        "p95": round(p95, 2),
        "max": round(ordered[-1], 2),
    }


def run(threads: int, photos: list[Path], attributes: bool) -> dict[str, Any]:
    from findme import model_manifest
    from findme.adapters.onnx_engine import OnnxFaceEngine
    from findme.config import Settings

    settings = Settings(ort_threads=threads)
    model_manifest.pull(settings.model_dir, settings.model_mirror)
    engine = OnnxFaceEngine(settings)
    load_s = engine.load()
    engine.analyze(photos[0].read_bytes(), attributes=attributes)  # warm-up
    rows = []
    for path in photos:
        data = path.read_bytes()
        start, cpu_start = time.perf_counter(), time.process_time()
        analysis = engine.analyze(data, embed=True, quality=True, attributes=attributes)
        total_ms = (time.perf_counter() - start) * 1000
        cpu_ms = (time.process_time() - cpu_start) * 1000
        t = analysis.timings_ms
        rows.append(
            {
                "photo": path.name,
                "megapixels": round(analysis.width * analysis.height / 1e6, 2),
                "faces": len(analysis.faces),
                "decode_ms": t.get("decode", 0.0),
                "detect_ms": t.get("detect", 0.0),
                "align_ms": t.get("align", 0.0),
                "embed_ms": t.get("embed", 0.0),
                "attributes_ms": t.get("attributes", 0.0),
                "total_ms": round(total_ms, 2),
                "cpu_ms": round(cpu_ms, 2),
            }
        )
    faces = sum(r["faces"] for r in rows)
    embed_total = sum(r["embed_ms"] for r in rows)
    return {
        "threads": threads,
        "model_load_s": round(load_s, 3),
        "photos": len(rows),
        "faces": faces,
        "faces_per_photo": round(faces / len(rows), 2),
        "decode_ms": _stats([r["decode_ms"] for r in rows]),
        "detect_ms": _stats([r["detect_ms"] for r in rows]),
        "embed_ms": _stats([r["embed_ms"] for r in rows if r["faces"]]),
        "embed_ms_per_face": round(embed_total / faces, 2) if faces else None,
        "attributes_ms": _stats([r["attributes_ms"] for r in rows if r["faces"]])
        if attributes
        else None,
        "total_ms": _stats([r["total_ms"] for r in rows]),
        # CPU time of all threads: robust to other processes sharing the machine
        "cpu_ms": _stats([r["cpu_ms"] for r in rows]),
        "photos_per_s": round(1000 * len(rows) / sum(r["total_ms"] for r in rows), 2),
        "per_photo": rows,
    }


def compare_sface(threads: int, repeats: int = 20) -> dict[str, Any]:
    """ms per face of the shipped SFace file (batch 1) vs the derived copy, same inputs."""
    import numpy as np
    from findme import model_manifest
    from findme.adapters.ort_sessions import create_session
    from findme.config import Settings

    settings = Settings(ort_threads=threads)
    spec = model_manifest.load_manifest(settings=settings).get("sface")
    assert spec.derived is not None
    blob = np.random.default_rng(0).uniform(0, 255, (1, 3, 112, 112)).astype(np.float32)
    result: dict[str, Any] = {"threads": threads}
    for label, name in (("shipped", spec.file), ("derived", spec.derived.file)):
        session = create_session(settings.model_dir / name, threads)
        feed = {session.get_inputs()[0].name: blob}
        session.run(None, feed)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            session.run(None, feed)
            times.append((time.perf_counter() - start) * 1000)
        result[f"{label}_ms_per_face"] = _stats(times)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated ort thread counts")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--limit", type=int, default=0, help="first N photos only")
    parser.add_argument("--attributes", action="store_true", help="also age/gender/emotion")
    parser.add_argument("--summary", action="store_true", help="omit the per-photo rows")
    parser.add_argument(
        "--compare-sface", action="store_true", help="also time shipped vs derived SFace"
    )
    args = parser.parse_args()
    photos = sorted(
        p for p in args.photos.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
    )
    if args.limit:
        photos = photos[: args.limit]
    if not photos:
        print(json.dumps({"error": f"no photos in {args.photos}"}))
        return 1
    results = [run(int(t), photos, args.attributes) for t in args.threads.split(",")]
    if args.summary:
        for result in results:
            result.pop("per_photo")
    sface = [compare_sface(int(t)) for t in args.threads.split(",")] if args.compare_sface else None
    print(
        json.dumps(
            {
                "benchmark": "face_engine",
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "photos_dir": str(args.photos),
                "attributes": args.attributes,
                "runs": results,
                "sface_shipped_vs_derived": sface,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
