"""functions/requirements/*.lock pin, with sha256 hashes, everything the venv and images install."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO_ROOT / "functions" / "requirements"


def _locks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("findme_locks", REQUIREMENTS / "locks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


locks = _locks()


def _direct_pins(extras: tuple[str, ...]) -> dict[str, str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    pins = {}
    for line in lines:
        name, version = line.split(";", 1)[0].split("==", 1)
        pins[locks.canonical(name.split("[", 1)[0].strip())] = version.strip()
    return pins


def test_every_dependency_of_pyproject_is_pinned_exactly() -> None:
    """Given pyproject.toml, then every dependency of the core and of every extra is ==."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for deps in project["optional-dependencies"].values():
        lines += deps
    assert lines
    assert all("==" in line for line in lines), [line for line in lines if "==" not in line]


@pytest.mark.parametrize("name", sorted(locks.LOCKS))
def test_lock_pins_every_direct_pin_of_pyproject(name: str) -> None:
    """Given a lock and the extras it covers, then each == pin of pyproject.toml appears in it
    with the same version (a pin changed without `make lock` fails here)."""
    pinned = locks.read_lock(name, this_interpreter=False)
    for dist, version in _direct_pins(locks.LOCKS[name]).items():
        assert pinned.get(dist) == version, f"{name}.lock: {dist} — run `make lock`"


@pytest.mark.parametrize("name", sorted(locks.LOCKS))
def test_every_lock_entry_is_hashed(name: str) -> None:
    """Given a lock, then every requirement carries at least one sha256 hash (pip
    --require-hashes refuses the file otherwise)."""
    text = locks.lock_path(name).read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.strip())
    entries = [e for e in entries if "==" in e.split("\n", 1)[0]]
    assert entries
    for entry in entries:
        assert "--hash=sha256:" in entry, entry.split("\n", 1)[0]


@pytest.mark.parametrize("name", sorted(set(locks.LOCKS) - {"runtime"}))
def test_locks_agree_with_the_runtime_lock(name: str) -> None:
    """Given the dev and image locks, then every distribution they share with runtime.lock has
    the runtime version: the tests run what the images ship."""
    runtime = locks.read_lock("runtime")
    for dist, version in locks.read_lock(name).items():
        if dist in runtime:
            assert version == runtime[dist], f"{name}.lock: {dist} {version} != {runtime[dist]}"


def test_image_locks_cover_exactly_the_runtime_lock() -> None:
    """Given the image locks, then together they are the runtime lock (nothing runs in Lambda
    that the runtime lock does not pin, nothing it pins is unused)."""
    union: dict[str, str] = {}
    for image in ("digest", "cluster", "zip"):
        union |= locks.read_lock(image)
    assert union == locks.read_lock("runtime")


def test_the_venv_is_exactly_the_dev_lock() -> None:
    """Given the installed .venv, then every distribution the dev lock pins for this
    interpreter is installed at that version (make setup installs from the lock)."""
    wanted = locks.read_lock("dev")
    assert wanted
    wrong = {}
    for dist, version in wanted.items():
        try:
            got = metadata.version(dist)
        except metadata.PackageNotFoundError:
            got = None
        if got != version:
            wrong[dist] = (got, version)
    assert not wrong, wrong
