"""Does averaging a face's SFace embedding with its mirror image's help? (prints JSON)

On every face of ``../shared/data/event-dev`` (padded as its README asks), each face is
embedded as is and as ``normalise(e(face) + e(mirror(face)))`` (flip-test augmentation, as in
ArcFace evaluations). For both variants it reports, over the labelled faces (the face nearest
each photo's centre) against the attendees' selfies (first photo of each identity with 2+):
impostor mean/sd, genuine mean, FMR and FNMR at cosine 0.40/0.45/0.50, and the cost
(embedding time per face). About 4 minutes on 2 vCPUs.

    .venv/bin/python benchmarks/mirror_embedding.py [--limit N]
"""

from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import argparse
import csv
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
EVENT_DEV = REPO.parent / "shared" / "data" / "event-dev"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, help="first N photos only")
    args = parser.parse_args()
    from findme.adapters.onnx_engine import OnnxFaceEngine
    from findme.commands.evaluate import padded_loader
    from findme.config import Settings

    engine = OnnxFaceEngine(Settings(enable_emotion=False, enable_age_gender=False, ort_threads=1))
    load = padded_loader(0.5)
    with (EVENT_DEV / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))[: args.limit]
    by_id: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        by_id[r["identity"]].append(r["file"])
    selfie = {sorted(f)[0]: i for i, f in by_id.items() if len(f) >= 2}
    plain: list[np.ndarray] = []
    mirror: list[np.ndarray] = []
    label: list[str] = []
    is_selfie: list[bool] = []
    t_plain = t_mirror = 0.0
    for r in rows:
        analysis = engine.analyze(load(EVENT_DEV / "images" / r["file"]), quality=False)
        if not analysis.faces:
            continue
        cx, cy = analysis.width / 2, analysis.height / 2
        face = min(
            analysis.faces,
            key=lambda f: (f.bbox.x + f.bbox.w / 2 - cx) ** 2 + (f.bbox.y + f.bbox.h / 2 - cy) ** 2,
        )
        assert face.aligned is not None
        crop = face.aligned[None]
        t = time.perf_counter()
        e = engine.embed_aligned(crop)[0]
        t_plain += time.perf_counter() - t
        t = time.perf_counter()
        m = engine.embed_aligned(np.ascontiguousarray(crop[:, :, ::-1]))[0]
        t_mirror += time.perf_counter() - t
        both = e + m
        plain.append(e)
        mirror.append(both / np.linalg.norm(both))
        label.append(r["identity"])
        is_selfie.append(r["file"] in selfie)
    labels = np.array(label)
    sel = np.array(is_selfie)
    out: dict[str, Any] = {"benchmark": "mirror_embedding", "faces": len(label)}
    for name, vectors in (("plain", plain), ("mirror_mean", mirror)):
        x = np.array(vectors)
        sims = x[sel] @ x[~sel].T
        same = labels[sel][:, None] == labels[~sel][None, :]
        imp, gen = sims[~same], sims[same]
        out[name] = {
            "impostor_mean": round(float(imp.mean()), 4),
            "impostor_sd": round(float(imp.std()), 4),
            "genuine_mean": round(float(gen.mean()), 4),
            "genuine_pairs": int(gen.size),
            "impostor_pairs": int(imp.size),
            **{
                f"at_{t:.2f}": {
                    "fmr": float(f"{(imp >= t).mean():.3g}"),
                    "fnmr": round(float((gen < t).mean()), 4),
                }
                for t in (0.40, 0.45, 0.50)
            },
        }
    n = max(1, len(label))
    out["embed_ms_per_face"] = {
        "plain": round(t_plain / n * 1000, 2),
        "mirror_mean": round((t_plain + t_mirror) / n * 1000, 2),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
