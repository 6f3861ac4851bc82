"""Face engine benchmark on faces-dev: per-photo decode/detect/embed ms, faces, load s, peak RSS.

Prints one JSON document. Usage::

    .venv/bin/python benchmarks/face_engine.py [--threads 1,2] [--limit N] [--attributes]
    .venv/bin/python benchmarks/face_engine.py --peer .venv-peer/bin/python --attributes \
        [--photos DIR] [--every K] [--repeats 3]

Each thread count gets a fresh engine (sessions created by ``load()``, timed), one warm-up
photo, then every photo of ``../shared/data/faces-dev/images`` analysed as the digest does
(detect, align, embed, quality; ``--attributes`` adds age/gender/emotion). Stage times are
wall-clock ms; ``cpu_ms`` is the process CPU time per photo (all threads), which stays
meaningful when other processes share the machine. Peak RSS is the process's maximum
resident set (``getrusage``), so it covers every configuration run.

``--peer PYTHON`` runs the side-by-side comparison instead: the peer, face_recognition (dlib
HOG detector + ResNet encoder), runs in its own virtualenv (``make peer-venv``) as a worker
process (``benchmarks/peer/face_recognition_worker.py``), and each photo goes through
FindMe's digest path (one ORT thread) and then the peer, alternating, ``--repeats`` times.
Both sides are timed from the file's bytes to every face's embedding (FindMe also scores
quality and, with ``--attributes``, age/gender/expression, which the peer does not do).
The speed-up is the peer's total CPU time over FindMe's, per repeat; the figure reported is
the median of the repeats (CPU time, because the machine is shared: wall time is beside it).
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


def _median_of_runs(runs: list[dict[str, float]], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 2)


# Long on purpose: one interleaved loop that feeds both engines the same photo in turn and
# keeps the per-repeat totals; splitting it would spread the timing rules over functions.
def compare_with_peer(
    peer_python: Path,
    photos: list[Path],
    attributes: bool,
    repeats: int,
    model_dir: Path | None = None,
) -> dict[str, Any]:
    """FindMe vs face_recognition on the same photos, interleaved; see the module docstring.

    ``model_dir`` runs FindMe on that directory's files as they are (no pull), e.g. an older
    set of derived copies for a before/after figure.
    """
    import subprocess

    from findme import model_manifest
    from findme.adapters.onnx_engine import OnnxFaceEngine
    from findme.config import Settings

    if model_dir is not None:
        settings = Settings(ort_threads=1, model_dir=model_dir)
    else:
        settings = Settings(ort_threads=1)
        model_manifest.pull(settings.model_dir, settings.model_mirror)
    engine = OnnxFaceEngine(settings)
    engine.load()
    worker = Path(__file__).with_name("peer") / "face_recognition_worker.py"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with subprocess.Popen(
        [str(peer_python), str(worker)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as peer:
        assert peer.stdin is not None
        assert peer.stdout is not None
        ready = json.loads(peer.stdout.readline())

        def peer_run(path: Path) -> dict[str, Any]:
            assert peer.stdin is not None
            assert peer.stdout is not None
            peer.stdin.write(f"{path}\n")
            peer.stdin.flush()
            return dict(json.loads(peer.stdout.readline()))

        engine.analyze(photos[0].read_bytes(), attributes=attributes)  # warm-up, both sides
        peer_run(photos[0])
        runs: list[dict[str, float]] = []
        faces = {"findme": 0, "peer": 0}
        for repeat in range(repeats):
            totals = dict.fromkeys(("findme_cpu", "findme_wall", "peer_cpu", "peer_wall"), 0.0)
            for path in photos:
                start, cpu_start = time.perf_counter(), time.process_time()
                analysis = engine.analyze(path.read_bytes(), attributes=attributes)
                totals["findme_wall"] += (time.perf_counter() - start) * 1000
                totals["findme_cpu"] += (time.process_time() - cpu_start) * 1000
                other = peer_run(path)
                totals["peer_wall"] += float(other["ms"])
                totals["peer_cpu"] += float(other["cpu_ms"])
                if repeat == 0:
                    faces["findme"] += len(analysis.faces)
                    faces["peer"] += int(other["faces"])
            n = len(photos)
            runs.append(
                {
                    "findme_cpu_ms_per_photo": round(totals["findme_cpu"] / n, 2),
                    "peer_cpu_ms_per_photo": round(totals["peer_cpu"] / n, 2),
                    "findme_wall_ms_per_photo": round(totals["findme_wall"] / n, 2),
                    "peer_wall_ms_per_photo": round(totals["peer_wall"] / n, 2),
                    "speedup_cpu": round(totals["peer_cpu"] / totals["findme_cpu"], 2),
                    "speedup_wall": round(totals["peer_wall"] / totals["findme_wall"], 2),
                }
            )
        peer.stdin.close()
    return {
        "peer": {"library": "face_recognition 1.3.0", "dlib": ready.get("dlib"), "model": "hog"},
        "photos": len(photos),
        "repeats": repeats,
        "attributes": attributes,
        "model_dir": str(settings.model_dir),
        "faces_found": faces,
        "median": {key: _median_of_runs(runs, key) for key in runs[0]},
        "runs": runs,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated ort thread counts")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--limit", type=int, default=0, help="first N photos only")
    parser.add_argument("--every", type=int, default=1, help="every K-th photo (sorted by name)")
    parser.add_argument(
        "--peer", type=Path, help="python of the face_recognition venv: run the comparison"
    )
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (--peer)")
    parser.add_argument(
        "--model-dir", type=Path, help="with --peer: run these model files as they are, no pull"
    )
    parser.add_argument("--attributes", action="store_true", help="also age/gender/emotion")
    parser.add_argument("--summary", action="store_true", help="omit the per-photo rows")
    parser.add_argument(
        "--compare-sface", action="store_true", help="also time shipped vs derived SFace"
    )
    args = parser.parse_args()
    photos = sorted(
        p for p in args.photos.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
    )
    photos = photos[:: max(1, args.every)]
    if args.limit:
        photos = photos[: args.limit]
    if not photos:
        print(json.dumps({"error": f"no photos in {args.photos}"}))
        return 1
    if args.peer is not None:
        comparison = compare_with_peer(
            args.peer, photos, args.attributes, args.repeats, args.model_dir
        )
        print(
            json.dumps(
                {"benchmark": "face_engine_vs_peer", "photos_dir": str(args.photos)} | comparison,
                indent=2,
            )
        )
        return 0
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
