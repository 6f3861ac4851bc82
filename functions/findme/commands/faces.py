"""``findme faces detect|features|embed IMAGE... [--jsonl]`` and ``findme faces analyze DIR``.

Per image the output is ``{"image": PATH, "faces": [...]}`` in the shapes of the seed's
``/get-faces``, ``/get-features`` and ``/get-embedding`` (see :mod:`findme.web.face_views`).
A file that cannot be read or decoded gives ``{"image": PATH, "error": CODE, "message": ...}``
and the command exits 1 after the other files; models load once for all files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from findme.config import get_settings
from findme.domain.faces import ImageAnalysis
from findme.errors import FindMeError, ModelError
from findme.web import face_views

#: File extensions ``faces analyze`` picks up in a folder.
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".heic", ".heif", ".bmp", ".tif", ".tiff"}
)

Render = Callable[[ImageAnalysis, str], dict[str, Any]]

_MODES: dict[str, tuple[Render, dict[str, bool], str]] = {
    "detect": (
        face_views.faces_response,
        {"embed": False, "quality": False, "attributes": False, "crops": True},
        "boxes, confidence and JPEG crops (/get-faces)",
    ),
    "features": (
        face_views.features_response,
        {"embed": False, "quality": False, "attributes": True, "crops": False},
        "landmarks, age, gender, emotion (/get-features)",
    ),
    "embed": (
        face_views.embedding_response,
        {"embed": True, "quality": True, "attributes": True, "crops": True},
        "crops, features, quality and 128-d embeddings (/get-embedding)",
    ),
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("faces", help="run the face engine on photos")
    sub = parser.add_subparsers(dest="faces_command", required=True)
    for mode, (_render, _options, help_text) in _MODES.items():
        p = sub.add_parser(mode, help=help_text)
        p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
        p.add_argument("--jsonl", action="store_true", help="one JSON line per image")
        p.set_defaults(func=_run_mode, mode=mode)
    analyze = sub.add_parser(
        "analyze", help="analyse a folder: faces per photo and the people found (clustering)"
    )
    analyze.add_argument("folder", type=Path, metavar="DIR")
    analyze.add_argument("--json", action="store_true", help="JSON lines instead of text")
    analyze.set_defaults(func=_analyze)


def _error_entry(path: Path, exc: Exception) -> dict[str, Any]:
    if isinstance(exc, FindMeError):
        return {"image": str(path), "error": exc.code, "message": exc.message}
    if isinstance(exc, OSError):
        return {"image": str(path), "error": "unreadable", "message": exc.strerror or str(exc)}
    return {"image": str(path), "error": "analysis_failed", "message": f"{type(exc).__name__}"}


def _analyses(
    paths: list[Path], options: dict[str, bool]
) -> Iterator[tuple[Path, bytes | None, ImageAnalysis | None, dict[str, Any] | None]]:
    """(path, bytes, analysis, error entry) per path; models load on the first photo."""
    from findme import wiring

    engine = wiring.face_engine()
    for path in paths:
        try:
            data = path.read_bytes()
            yield path, data, engine.analyze(data, **options), None
        except ModelError:
            raise  # no model: every file would fail the same way; cli.main reports it once
        except Exception as exc:  # one bad photo must not stop the others, nor print a traceback
            yield path, None, None, _error_entry(path, exc)


def _run_mode(args: argparse.Namespace) -> int:
    render, options, _help = _MODES[args.mode]
    failures = 0
    results: list[dict[str, Any]] = []
    for path, data, analysis, error in _analyses(list(args.images), options):
        if error is not None or analysis is None or data is None:
            failures += 1
            entry = error or {"image": str(path), "error": "analysis_failed"}
        else:
            entry = {"image": str(path), **render(analysis, face_views.image_id_for_bytes(data))}
        if args.jsonl:
            print(json.dumps(entry), flush=True)
        else:
            results.append(entry)
    if not args.jsonl:
        print(json.dumps(results[0] if len(results) == 1 else results, indent=2))
    return 1 if failures else 0


def _person_label(counter: list[int]) -> Callable[[], str]:
    def new_id() -> str:
        counter[0] += 1
        return f"person-{counter[0]}"

    return new_id


# Long on purpose: one CLI command: argument handling, the per-file loop and its JSON/text output
# read best in order.
def _analyze(args: argparse.Namespace) -> int:
    import numpy as np

    from findme.domain.clustering import cluster_faces

    folder: Path = args.folder
    if not folder.is_dir():
        print(json.dumps({"error": "not_found", "message": f"{folder} is not a folder"}))
        return 2
    settings = get_settings()
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    options = {"embed": True, "quality": True, "attributes": True, "crops": False}
    photos: list[dict[str, Any]] = []
    embeddings: list[Any] = []
    owners: list[tuple[int, int]] = []  # (photo index, face index)
    failures = 0
    for path, data, analysis, error in _analyses(paths, options):
        if error is not None or analysis is None or data is None:
            failures += 1
            photos.append(error or {"image": str(path), "error": "analysis_failed"})
            continue
        faces = face_views.embedding_response(analysis, face_views.image_id_for_bytes(data))
        entries = []
        for face, raw in zip(faces["faces"], analysis.faces, strict=True):
            quality = face["quality"] or {}
            features = face["features"]
            entries.append(
                {
                    "face_id": face["face_id"],
                    "facial_area": face["facial_area"],
                    "confidence": face["confidence"],
                    "quality_grade": quality.get("quality_grade"),
                    "overall_quality": quality.get("overall_quality"),
                    "age": features["age"],
                    "gender": features["gender"],
                    "emotion": features["emotion"],
                    "person": None,
                }
            )
            if raw.embedding is not None:
                owners.append((len(photos), len(entries) - 1))
                embeddings.append(raw.embedding)
        photos.append(
            {
                "image": str(path),
                "width": analysis.width,
                "height": analysis.height,
                "faces": entries,
            }
        )

    people: dict[str, list[tuple[int, int]]] = {}
    if embeddings:
        outcome = cluster_faces(
            np.stack(embeddings),
            [str(photo_index) for photo_index, _ in owners],
            [None] * len(owners),
            [False] * len(owners),
            eps=settings.cluster_eps,
            min_samples=settings.cluster_min_samples,
            method=settings.cluster_method,
            linkage_threshold=settings.cluster_linkage_threshold,
            new_person_id=_person_label([0]),
        )
        for (photo_index, face_index), person in zip(owners, outcome.person_ids, strict=True):
            photos[photo_index]["faces"][face_index]["person"] = person
            if person is not None:
                people.setdefault(person, []).append((photo_index, face_index))
    summary = {
        "photos": len(paths),
        "failed": failures,
        "faces": len(owners),
        "people": len(people),
        "unassigned_faces": len(owners) - sum(len(v) for v in people.values()),
        "cluster_method": settings.cluster_method,
        "cluster_linkage_threshold": settings.cluster_linkage_threshold,
        "cluster_eps": settings.cluster_eps,
        "cluster_min_samples": settings.cluster_min_samples,
    }
    people_rows = [
        {
            "person": person,
            "faces": len(members),
            "photos": sorted({Path(photos[p]["image"]).name for p, _ in members}),
        }
        for person, members in sorted(people.items(), key=lambda kv: -len(kv[1]))
    ]
    if args.json:
        for photo in photos:
            print(json.dumps(photo))
        print(json.dumps({"people": people_rows, "summary": summary}))
    else:
        _print_text(photos, people_rows, summary)
    return 1 if failures else 0


def _print_text(
    photos: list[dict[str, Any]], people: list[dict[str, Any]], summary: dict[str, Any]
) -> None:
    out = sys.stdout
    for photo in photos:
        name = Path(photo["image"]).name
        if "error" in photo:
            out.write(f"{name}: ERROR {photo['error']}: {photo.get('message', '')}\n")
            continue
        out.write(f"{name} ({photo['width']}x{photo['height']}): {len(photo['faces'])} face(s)\n")
        for face in photo["faces"]:
            area = face["facial_area"]
            out.write(
                f"  [{area['x']},{area['y']} {area['w']}x{area['h']}] conf {face['confidence']:.2f}"
                f" quality {face['quality_grade']} ({face['overall_quality']})"
                f" {face['gender'] or '-'} {face['age'] if face['age'] is not None else '-'}"
                f" {face['emotion'] or '-'} -> {face['person'] or 'unassigned'}\n"
            )
    out.write(f"\nPeople found: {len(people)}\n")
    for row in people:
        out.write(f"  {row['person']}: {row['faces']} face(s) in {', '.join(row['photos'])}\n")
    out.write(
        f"\n{summary['photos']} photo(s), {summary['faces']} face(s), {summary['people']} "
        f"people, {summary['unassigned_faces']} unassigned, {summary['failed']} failed "
        f"({_method(summary)})\n"
    )


def _method(summary: dict[str, Any]) -> str:
    """How the people were clustered, for the text report."""
    if summary["cluster_method"] == "dbscan":
        return (
            f"DBSCAN cosine eps {summary['cluster_eps']}, "
            f"min_samples {summary['cluster_min_samples']}"
        )
    return f"average linkage, mean cosine >= {summary['cluster_linkage_threshold']}"
