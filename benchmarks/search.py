"""Selfie search on the local stack's vector index: ms per reference query, old vs new engine.

For each gallery size (default 10k and 100k faces in one group), synthetic faces
(:func:`findme.domain.synthetic.synthetic_faces`: identities with SFace's same-person and
impostor cosine statistics, Zipf-like sizes, 10 % strangers) are upserted with their person
ids into each engine, on disk as the local stack keeps them:

- ``client``: qdrant-client local mode (brute force in Python; the engine before), in
  memory: on disk its upserts are written to SQLite at ~100 points/s (10k faces: 99 s), and
  it searches the same in-memory arrays either way;
- ``edge``: Qdrant Edge on disk, exact search (the local stack's engine now);
- ``edge_hnsw`` (``--hnsw``): Qdrant Edge after ``optimize()`` built its HNSW graph,
  approximate search, with its recall against the exact hits.

A reference query is what ``GET /get`` runs per selfie (:func:`findme.services.search`):
``query(selfie, group_ids=[group], limit=QUERY_LIMIT, score_threshold=candidate bar,
kind="face")``, the candidate bar from :meth:`MatchBars.for_gallery` with the default
settings. The selfies are held-out faces of gallery identities. Each engine answers the same
queries in ``--rounds`` interleaved rounds; p50/p95 are over all of them, with each round's
p50 (the spread). Also reported: bulk upsert points/s and the 1-minute load average (the
machine is shared and noisy).

    .venv/bin/python benchmarks/search.py [--sizes 10000 100000] [--queries 30] [--rounds 3]
        [--engines client edge] [--hnsw]
"""

from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from findme.config import Settings
from findme.domain.matching import MatchBars
from findme.domain.synthetic import synthetic_faces
from findme.ports import FaceVector, VectorIndex
from findme.services.search import QUERY_LIMIT
from findme.wiring import build_vector_index

GROUP = "bench-group"


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def gallery(n: int, queries: int, seed: int) -> tuple[list[FaceVector], np.ndarray, float]:
    """``n`` gallery faces (person id = identity), ``queries`` held-out selfies, the bar."""
    faces = synthetic_faces(n + queries, seed=seed)
    rng = np.random.default_rng(seed)
    known = np.flatnonzero(faces.identities >= 0)
    held = rng.choice(known, size=queries, replace=False)
    keep = np.setdiff1d(np.arange(len(faces.identities)), held)
    vectors = [
        FaceVector(
            face_id=str(uuid.UUID(int=int(i) + 1)),
            group_id=GROUP,
            image_id=faces.image_ids[i],
            vector=faces.embeddings[i],
            person_id=f"p{faces.identities[i]}" if faces.identities[i] >= 0 else None,
        )
        for i in keep
    ]
    persons = len(set(faces.identities[keep][faces.identities[keep] >= 0].tolist()))
    settings = Settings()
    bars = MatchBars.for_gallery(
        persons=persons,
        unclustered_faces=int(np.sum(faces.identities[keep] < 0)),
        references=1,
        expected_false_matches=settings.match_expected_false_persons,
        candidate_false_matches=settings.match_candidate_false_matches,
        floor=settings.match_threshold,
        candidate_floor=settings.match_candidate_floor,
    )
    return vectors, faces.embeddings[held], bars.candidate


def open_engine(engine: str, path: Path) -> VectorIndex:
    """Edge on disk; local mode in memory (on disk it writes ~100 points/s to SQLite, and
    it searches the same in-memory arrays either way)."""
    if engine == "client":
        settings = Settings(qdrant_path=":memory:", qdrant_local_engine="client")
    else:
        settings = Settings(qdrant_path=str(path), qdrant_local_engine="edge")
    return build_vector_index(settings)


def one_round(
    index: VectorIndex, selfies: np.ndarray, bar: float
) -> tuple[list[float], list[set[str]]]:
    times, hits = [], []
    for selfie in selfies:
        t = time.perf_counter()
        found = index.query(
            selfie, group_ids=[GROUP], limit=QUERY_LIMIT, score_threshold=bar, kind="face"
        )
        times.append((time.perf_counter() - t) * 1000)
        hits.append({h.face_id for h in found})
    return times, hits


def run_size(n: int, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    vectors, selfies, bar = gallery(n, args.queries, args.seed)
    engines = list(args.engines) + (["edge_hnsw"] if args.hnsw else [])
    indexes: dict[str, VectorIndex] = {}
    out: dict[str, Any] = {
        "faces": len(vectors),
        "queries": len(selfies),
        "candidate_bar": round(bar, 3),
    }
    per: dict[str, dict[str, Any]] = {}
    for engine in engines:
        index = open_engine(engine, root / f"{engine}-{n}")
        load = _load()
        t = time.perf_counter()
        index.upsert(vectors)
        upsert_s = time.perf_counter() - t
        per[engine] = {
            "upsert_s": round(upsert_s, 1),
            "upsert_points_per_s": round(len(vectors) / upsert_s),
            "load_avg_1m_upsert": load,
        }
        if engine == "edge_hnsw":
            t = time.perf_counter()
            index._shard.optimize()  # type: ignore[attr-defined]  # builds the HNSW graph
            per[engine]["optimize_s"] = round(time.perf_counter() - t, 1)
            index._exact = None  # type: ignore[attr-defined]  # default search params: HNSW
        indexes[engine] = index
    times: dict[str, list[float]] = {e: [] for e in engines}
    rounds_p50: dict[str, list[float]] = {e: [] for e in engines}
    hits: dict[str, list[set[str]]] = {}
    loads = [_load()]
    for _ in range(args.rounds):
        for engine in engines:  # interleaved: every engine sees the same load drift
            t_ms, found = one_round(indexes[engine], selfies, bar)
            times[engine] += t_ms
            rounds_p50[engine].append(round(float(np.median(t_ms)), 2))
            hits.setdefault(engine, found)
        loads.append(_load())
    exact = hits.get("edge") or hits.get("client")
    for engine in engines:
        t_all = np.asarray(times[engine])
        per[engine].update(
            p50_ms=round(float(np.percentile(t_all, 50)), 2),
            p95_ms=round(float(np.percentile(t_all, 95)), 2),
            round_p50_ms=rounds_p50[engine],
            mean_hits=round(float(np.mean([len(h) for h in hits[engine]])), 1),
        )
        if exact is not None:
            recall = [len(h & e) / len(e) for h, e in zip(hits[engine], exact, strict=True) if e]
            per[engine]["recall_vs_exact"] = round(float(np.mean(recall)), 4) if recall else None
        indexes[engine].close()  # type: ignore[attr-defined]
    out["engines"] = per
    out["load_avg_1m"] = loads
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--engines", nargs="+", default=["client", "edge"], choices=["client", "edge"]
    )
    parser.add_argument("--hnsw", action="store_true", help="also Edge with an HNSW graph")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="findme-searchbench-") as tmp:
        for n in args.sizes:
            results.append(run_size(n, args, Path(tmp)))
            print(json.dumps(results[-1]), file=sys.stderr)
    print(
        json.dumps(
            {
                "benchmark": "search",
                "query_limit": QUERY_LIMIT,
                "cpu_count": os.cpu_count(),
                "sizes": results,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
