"""``findme openapi``: print the API's OpenAPI document (JSON) without starting anything."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("openapi", help="print the API's OpenAPI document as JSON")
    parser.add_argument("--indent", type=int, default=2, help="JSON indentation (0: compact)")
    parser.set_defaults(func=_openapi)


def _openapi(args: argparse.Namespace) -> int:
    from findme.web.app import create_app

    spec = create_app().openapi()
    print(json.dumps(spec, indent=args.indent or None, ensure_ascii=False))
    return 0
