"""Duplicate and outlier review on synthetic groups: time and peak memory (prints JSON).

Synthetic faces: ``N`` unit vectors (128-d) around ``N / 8`` identities (cosine similarity to
the identity ~0.7), 2 % exact re-uploads (the duplicates to find), one face per photo except
every tenth photo holding two. Run: ``.venv/bin/python benchmarks/curation_review.py``.
"""

from __future__ import annotations

import json
import resource
import time

import numpy as np
from findme.domain.curation import duplicate_pairs, person_outliers


def synthetic(n: int, seed: int = 0) -> tuple[list[str], list[str], np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    ids = max(1, n // 8)
    centers = rng.normal(size=(ids, 128))
    owner = rng.integers(0, ids, size=n)
    vecs = centers[owner] + 0.9 * rng.normal(size=(n, 128))
    dup = rng.choice(n, size=n // 50, replace=False)
    vecs[dup] = vecs[(dup + 1) % n]
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    face_ids = [f"f{i}" for i in range(n)]
    image_ids = [f"i{i // 2 if i % 10 == 0 else i}" for i in range(n)]
    persons = [f"p{o}" for o in owner]
    return face_ids, image_ids, vecs, persons


def main() -> None:
    results = []
    for n in (1_000, 10_000, 30_000):
        face_ids, image_ids, vecs, persons = synthetic(n)
        t0 = time.perf_counter()
        pairs = duplicate_pairs(face_ids, image_ids, vecs, threshold=0.95, limit=200)
        dup_s = time.perf_counter() - t0
        members: dict[str, list[tuple[str, np.ndarray]]] = {}
        for face_id, person, vec in zip(face_ids, persons, vecs, strict=True):
            members.setdefault(person, []).append((face_id, vec))
        t0 = time.perf_counter()
        outliers = person_outliers(members, threshold=0.6, limit=200)
        out_s = time.perf_counter() - t0
        results.append(
            {
                "faces": n,
                "duplicates_s": round(dup_s, 3),
                "duplicate_pairs": len(pairs),
                "outliers_s": round(out_s, 4),
                "outliers": len(outliers),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    print(json.dumps({"benchmark": "curation_review", "results": results}, indent=2))


if __name__ == "__main__":
    main()
