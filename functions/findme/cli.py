"""The ``findme`` command line: ``findme models|faces|local|upload|openapi ...``.

Each command group lives in its own module exposing ``register(subparsers)``; this module only
dispatches. A command returns its exit code; errors are printed as JSON, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence

from findme.errors import FindMeError

#: Modules that add sub-commands, each with ``register(subparsers) -> None``.
COMMAND_MODULES: tuple[str, ...] = (
    "findme.commands.models",
    "findme.commands.faces",
    "findme.commands.local",
    "findme.commands.jobs",
    "findme.commands.api",
    "findme.commands.evaluate",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="findme", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # command group not built yet
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except FindMeError as exc:
        print(
            json.dumps({"error": exc.code, "message": exc.message, **exc.details}), file=sys.stderr
        )
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
