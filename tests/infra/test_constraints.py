"""functions/requirements/constraints.txt pins what the images install (no synth needed)."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO_ROOT / "functions" / "requirements"


def _freeze() -> ModuleType:
    spec = importlib.util.spec_from_file_location("findme_freeze", REQUIREMENTS / "freeze.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.split("[", 1)[0].strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_constraints_agree_with_every_runtime_pin_of_pyproject() -> None:
    """Given pyproject.toml, then every == pin of the core and the api/digest/cluster/zip
    extras appears with the same version in constraints.txt."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    direct = list(project["dependencies"])
    for extra in ("api", "digest", "cluster", "zip"):
        direct += project["optional-dependencies"][extra]
    constraints = _pins((REQUIREMENTS / "constraints.txt").read_text().splitlines())
    for name, version in _pins(direct).items():
        assert constraints.get(name) == version, f"{name}: run functions/requirements/freeze.py"


def test_constraints_are_the_frozen_runtime_closure_of_the_venv() -> None:
    """Given the installed .venv, then constraints.txt is exactly what freeze.py writes (the
    transitive versions the tests ran with); regenerate it after any dependency change."""
    freeze = _freeze()
    expected = freeze.render(freeze.runtime_closure())
    assert (REQUIREMENTS / "constraints.txt").read_text() == expected, (
        "stale: run .venv/bin/python functions/requirements/freeze.py"
    )
