"""Shared test fixtures: the faces-dev data set and test settings."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from stack_env import STACK_ENV

if TYPE_CHECKING:
    from findme.adapters.onnx_engine import OnnxFaceEngine

REPO_ROOT = Path(__file__).resolve().parents[1]
FACES_DEV = Path(os.environ.get("FINDME_FACES_DEV", REPO_ROOT.parent / "shared/data/faces-dev"))

#: The environment every test starts from: the process's, plus these defaults. Set before
#: collection (Powertools reads its variables when test modules import findme) and restored
#: when the session ends.
TEST_ENV_DEFAULTS = {
    "FINDME_STAGE": "test",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "FindMe",
    # moto's in-process mocks sign requests; dummy keys also keep tests off a real account
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
#: The variables :func:`pytest_runtest_setup` puts back (the stack's and FindMe's).
_MANAGED_PREFIXES = ("FINDME_", "AWS_", "MOTO_", "POWERTOOLS_")
_session_env = pytest.MonkeyPatch()
_base_env: dict[str, str] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Set :data:`TEST_ENV_DEFAULTS` (where unset) and remember the base environment."""
    for key, value in TEST_ENV_DEFAULTS.items():
        if key not in os.environ:
            _session_env.setenv(key, value)
    _base_env.update(os.environ)


def pytest_unconfigure(config: pytest.Config) -> None:
    _session_env.undo()


_env_patch = pytest.StashKey[pytest.MonkeyPatch]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> object:
    """Every test, and the fixtures it sets up (of any scope), sees the base environment,
    plus the local stack's variables when it uses ``local_stack``.

    The session's local stack (``local_stack``, tests/integration/conftest.py) puts its
    endpoints into ``os.environ`` while it runs; a test that does not ask for it has them
    taken away until its teardown (and ``get_settings()`` forgotten, before and after), so no
    test depends on whether the stack started before it: tests run in any order
    (``pytest -p randomly``).
    """
    from findme.config import get_settings

    wanted = dict(_base_env)
    if "local_stack" in getattr(item, "fixturenames", ()):
        # The stack's variables, once it runs (other tests' fixtures may have restored over
        # them); before that, local_stack sets them itself.
        wanted |= item.config.stash.get(STACK_ENV, {})
    patch = pytest.MonkeyPatch()
    item.stash[_env_patch] = patch
    for key in set(os.environ) - set(wanted):
        if key.startswith(_MANAGED_PREFIXES):
            patch.delenv(key)
    for key, value in wanted.items():
        if key.startswith(_MANAGED_PREFIXES) and os.environ.get(key) != value:
            patch.setenv(key, value)
    get_settings.cache_clear()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    """Give the environment back before fixtures end (a session fixture restores its own)."""
    patch = item.stash.get(_env_patch, None)
    if patch is not None:
        from findme.config import get_settings

        patch.undo()
        get_settings.cache_clear()
    return (yield)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a ``scope="package"`` fixture that is not a Python package's.

    tests/ has no ``__init__.py`` in its directories, and outside a package pytest falls back
    to the session for package scope: such a fixture (a ``mock_aws``, say) would stay open
    around every later test of the run, so tests would pass or fail by their order.
    """
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        for defs in info.name2fixturedefs.values() if info is not None else ():
            for fixturedef in defs:
                if fixturedef.scope == "package" and not isinstance(
                    getattr(fixturedef, "node", None), pytest.Package
                ):
                    raise pytest.UsageError(
                        f"fixture {fixturedef.argname!r} ({fixturedef.baseid or '.'}) has "
                        "scope='package' outside a Python package, where pytest keeps it "
                        "for the whole session: use scope='module'"
                    )


@pytest.fixture(scope="session")
def faces_dev() -> Path:
    """Root of ../shared/data/faces-dev (photos stay outside the repo)."""
    if not (FACES_DEV / "labels.csv").is_file():
        pytest.fail(f"faces-dev data set not found at {FACES_DEV}")
    return FACES_DEV


@pytest.fixture(scope="session")
def labels(faces_dev: Path) -> dict[str, str]:
    """file name -> identity for the 62 labelled photos."""
    with (faces_dev / "labels.csv").open() as fh:
        return {row["file"]: row["identity"] for row in csv.DictReader(fh)}


@pytest.fixture(scope="session")
def group_photos(faces_dev: Path) -> dict[str, int]:
    """file name -> expected face count for the group photos."""
    with (faces_dev / "groups.csv").open() as fh:
        return {row["file"]: int(row["expected_faces"]) for row in csv.DictReader(fh)}


@pytest.fixture(scope="session")
def people(faces_dev: Path) -> dict[str, dict[str, str]]:
    """identity -> {"presented_gender": "F"|"M", "birth_year": "1975"}."""
    with (faces_dev / "people.csv").open() as fh:
        return {row["identity"]: row for row in csv.DictReader(fh)}


# --- face models (engine) ------------------------------------------------------------------
MODEL_MIRROR = Path(os.environ.get("FINDME_MODEL_MIRROR") or REPO_ROOT.parent / "shared/models")


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The settings' model directory with every pinned model, pulled (mirror first) if missing."""
    from findme import model_manifest
    from findme.config import Settings

    settings = Settings()
    model_manifest.pull(settings.model_dir, MODEL_MIRROR if MODEL_MIRROR.is_dir() else None)
    return settings.model_dir


@pytest.fixture(scope="session")
def face_engine(model_dir: Path) -> OnnxFaceEngine:
    """One loaded OnnxFaceEngine for the whole session (models load once)."""
    from findme.adapters.onnx_engine import OnnxFaceEngine
    from findme.config import Settings

    engine = OnnxFaceEngine(Settings(model_dir=model_dir))
    engine.load()
    return engine
