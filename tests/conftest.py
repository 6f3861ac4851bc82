"""Shared test fixtures: the faces-dev data set and test settings."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from findme.adapters.onnx_engine import OnnxFaceEngine

REPO_ROOT = Path(__file__).resolve().parents[1]
FACES_DEV = Path(os.environ.get("FINDME_FACES_DEV", REPO_ROOT.parent / "shared/data/faces-dev"))

os.environ.setdefault("FINDME_STAGE", "test")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "FindMe")


#: Run order of the tiers. The session-wide local stack exports its endpoints into the
#: environment, so every unit test runs before it starts; the API tier (whose server keeps an
#: SQS poller running until the session ends) runs last.
_TIER_ORDER = (
    "unit",
    "infra",
    "integration/data",
    "integration/engine",
    "integration/cluster",
    "integration/pipelines",
    "integration/curation",
    "integration/matching",
    "integration/api",
)


def _tier(item: pytest.Item) -> int:
    rel = Path(str(item.path)).resolve().relative_to(REPO_ROOT / "tests").as_posix()
    ranks = [i for i, tier in enumerate(_TIER_ORDER) if rel.startswith(tier + "/")]
    return ranks[-1] if ranks else len(_TIER_ORDER)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order tests by tier (stable within a tier); see ``_TIER_ORDER``."""
    items.sort(key=_tier)


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
