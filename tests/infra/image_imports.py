"""Import Lambda handlers as an image would: only the distributions that image installs.

Run as a script (a fresh interpreter per image, so nothing is already imported)::

    python tests/infra/image_imports.py '{"extras": ["zip"], "handlers": [...], "modules": []}'

Every top-level module that comes only from distributions *outside* the runtime closure of
``findme[<extras>]`` (the image's ``functions/requirements/<image>.lock``) is blocked, then
each handler file and each extra module (those the handlers import lazily, e.g. the ONNX
engine) is imported.
Prints one JSON object: ``{"failed": {name: "ErrorType: message"}}``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import json
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]


def _locks() -> ModuleType:
    path = REPO_ROOT / "functions" / "requirements" / "locks.py"
    spec = importlib.util.spec_from_file_location("findme_locks", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Blocker(importlib.abc.MetaPathFinder):
    """Refuses the given top-level modules, as if their distributions were not installed."""

    def __init__(self, blocked: set[str]) -> None:
        self.blocked = blocked

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> None:
        if fullname.split(".", 1)[0] in self.blocked:
            raise ModuleNotFoundError(f"No module named {fullname!r} (not in the image)")
        return None


def blocked_modules(extras: Sequence[str]) -> set[str]:
    """Top-level modules of installed distributions the image of ``extras`` does not get."""
    locks = _locks()
    (image,) = [name for name, ex in locks.LOCKS.items() if set(ex) == set(extras)]
    allowed = set(locks.read_lock(image)) | {"findme"}
    return {
        module
        for module, dists in metadata.packages_distributions().items()
        if not any(locks.canonical(d) in allowed for d in dists)
    }


def main(spec: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    sys.meta_path.insert(0, _Blocker(blocked_modules(spec["extras"])))
    failed: dict[str, str] = {}
    for i, handler in enumerate(spec["handlers"]):
        try:
            loader_spec = importlib.util.spec_from_file_location(f"image_handler_{i}", handler)
            assert loader_spec is not None
            assert loader_spec.loader is not None
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
            assert callable(module.handler)
        except Exception as exc:  # report every failure, not just the first
            failed[handler] = f"{type(exc).__name__}: {exc}"
    for name in spec["modules"]:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
    return {"failed": failed}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
