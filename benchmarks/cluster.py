"""Clustering time and peak memory at 10k, 50k and 100k synthetic faces (prints JSON).

Each size runs in its own process. ``first_run_peak_rss_mb`` / ``rerun_peak_rss_mb``: peak
RSS (VmHWM, reset on Linux before each run, after the faces are generated) of each
clustering; ``peak_rss_mb``: the whole process's (``ru_maxrss``, generation included). Faces come
from :func:`findme.local.synthetic.synthetic_faces` (identities calibrated on SFace
faces-dev statistics, Zipf-like identity sizes, 10 % strangers, 1-4 faces per photo). For
each size: a first clustering from scratch, then a re-clustering with the persons of the
first (the nightly path: stable ids by overlap), with the default method (average linkage;
``--method dbscan`` for DBSCAN) and eps/min_samples.
scipy/scikit-learn import time (a cold start's) is measured apart. Wall times depend on the
machine's load (``load_avg_1m``); ``first_run_cpu_s`` is this process's CPU time.

Usage: ``.venv/bin/python benchmarks/cluster.py [--sizes 10000 50000 100000] [--out FILE]``
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) -> whether the kernel allowed it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _rss_mb(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` of this process from ``/proc/self/status``, MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(n: int, *, eps: float, min_samples: int, seed: int, method: str) -> dict[str, Any]:
    """Cluster ``n`` synthetic faces twice; return the figures of this process."""
    import numpy as np
    from findme.domain.clustering import cluster_faces
    from findme.domain.metrics import bcubed
    from findme.local.synthetic import synthetic_faces

    t = time.perf_counter()
    # the domain imports these lazily; a cold start pays for them once, timed apart here
    for module in ("sklearn.neighbors", "scipy.sparse.csgraph", "scipy.optimize"):
        importlib.import_module(module)
    import_s = time.perf_counter() - t
    faces = synthetic_faces(n, seed=seed)
    generation_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # The generator's temporaries are not the clustering's: start the high-water mark again
    # (Linux: writing 5 to clear_refs resets VmHWM), so peak_rss_mb is what clustering holds.
    gc.collect()
    hwm_reset = _reset_peak_rss()
    base_rss_mb = _rss_mb("VmRSS")
    cpu0 = time.process_time()
    t = time.perf_counter()
    first = cluster_faces(
        faces.embeddings,
        faces.image_ids,
        [None] * n,
        [False] * n,
        eps=eps,
        min_samples=min_samples,
        method=method,
    )
    first_s = time.perf_counter() - t
    first_cpu_s = time.process_time() - cpu0
    first_peak_mb = _rss_mb("VmHWM") if hwm_reset else None
    gc.collect()
    if hwm_reset:
        _reset_peak_rss()
    t = time.perf_counter()
    second = cluster_faces(
        faces.embeddings,
        faces.image_ids,
        first.person_ids,
        [False] * n,
        eps=eps,
        min_samples=min_samples,
        method=method,
        known_person_ids=[p.person_id for p in first.persons],
    )
    second_s = time.perf_counter() - t
    rerun_peak_mb = _rss_mb("VmHWM") if hwm_reset else None
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    score = bcubed(faces.identities.tolist(), first.person_ids)
    sizes = np.bincount(faces.identities[faces.identities >= 0])
    return {
        "faces": n,
        "identities": int(sizes.size),
        "largest_identity": int(sizes.max()),
        "photos": len(set(faces.image_ids)),
        "method": method,
        "eps": eps,
        "min_samples": min_samples,
        "neighbour_pairs": first.neighbour_pairs,
        "clusters_found": first.clusters_found,
        "clusters_split": first.clusters_split,
        "persons": len(first.persons),
        "noise_faces": first.noise_faces,
        "bcubed": score.as_dict(),
        "import_s": round(import_s, 2),
        "first_run_s": round(first_s, 2),
        "first_run_cpu_s": round(first_cpu_s, 2),
        "first_run_phases_s": first.timings_s,
        "rerun_s": round(second_s, 2),
        "rerun_ids_kept": second.person_ids == first.person_ids,
        "rerun_persons_created": second.persons_created,
        "generation_peak_rss_mb": round(generation_peak_mb, 1),
        "baseline_rss_mb": round(base_rss_mb, 1),
        "first_run_peak_rss_mb": None if first_peak_mb is None else round(first_peak_mb, 1),
        "rerun_peak_rss_mb": None if rerun_peak_mb is None else round(rerun_peak_mb, 1),
        "peak_rss_mb": round(peak_rss_mb, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--eps", type=float, default=0.475)
    parser.add_argument("--min-samples", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--method", choices=["average", "dbscan"], default="average", help="clustering method"
    )
    parser.add_argument("--out", help="also write the JSON to this file")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        figures = one(
            args.one, eps=args.eps, min_samples=args.min_samples, seed=args.seed, method=args.method
        )
        print(json.dumps(figures))
        return 0
    results = []
    for n in args.sizes:
        cmd = [
            sys.executable,
            __file__,
            "--one",
            str(n),
            "--eps",
            str(args.eps),
            "--min-samples",
            str(args.min_samples),
            "--seed",
            str(args.seed),
            "--method",
            args.method,
        ]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), file=sys.stderr)
    report = {
        "benchmark": "cluster",
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": sys.version.split()[0],
        "results": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
