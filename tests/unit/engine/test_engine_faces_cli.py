"""``findme faces ...`` with a fake engine: output shapes, per-file errors, exit codes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from findme import cli, wiring
from findme.domain.faces import BoundingBox, DecodedImage, DetectedFace, ImageAnalysis
from findme.errors import InvalidImageError


class FakeEngine:
    """Two faces for any bytes starting with b"JPEG", InvalidImageError otherwise."""

    def decode(self, data: bytes) -> DecodedImage:
        raise NotImplementedError

    def crop(self, image: DecodedImage, bbox: BoundingBox) -> bytes:
        return b"jpeg"

    def render(self, image: DecodedImage, long_sides: Sequence[int]) -> list[bytes]:
        return [b"jpeg-%d" % side for side in long_sides]

    def analyze(self, data: bytes | DecodedImage, **options: bool) -> ImageAnalysis:
        if not isinstance(data, bytes) or not data.startswith(b"JPEG"):
            raise InvalidImageError("not a recognised image format")
        faces = []
        for i, vector_axis in enumerate((0, 0)):
            embedding = np.zeros(128, np.float32)
            embedding[vector_axis] = 1.0
            faces.append(
                DetectedFace(
                    index=i,
                    bbox=BoundingBox(10 * i, 0, 50, 60),
                    landmarks=np.zeros((5, 2), np.float32),
                    confidence=0.9,
                    embedding=embedding if options.get("embed") else None,
                    crop_jpeg=b"jpeg" if options.get("crops") else None,
                )
            )
        return ImageAnalysis(width=100, height=100, faces=faces)


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wiring, "face_engine", FakeEngine)


@pytest.mark.usefixtures("fake_engine")
def test_embed_jsonl_reports_bad_files_and_exits_nonzero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a good photo, a text file and a missing path
    good = tmp_path / "a.jpg"
    good.write_bytes(b"JPEG...")
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    # When embedded as JSON lines
    code = cli.main(["faces", "embed", str(good), str(bad), str(tmp_path / "gone.jpg"), "--jsonl"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # Then one line per image, errors as objects, exit code 1
    assert code == 1
    assert [line["image"] for line in lines] == [str(good), str(bad), str(tmp_path / "gone.jpg")]
    assert len(lines[0]["faces"]) == 2
    assert len(lines[0]["faces"][0]["embedding"]) == 128
    assert lines[1]["error"] == "invalid_image"
    assert lines[2]["error"] == "unreadable"


@pytest.mark.usefixtures("fake_engine")
def test_detect_single_image_prints_one_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "a.jpg"
    good.write_bytes(b"JPEG...")
    assert cli.main(["faces", "detect", str(good)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["image"] == str(good)
    assert set(result["faces"][0]) == {"face_id", "face_b64", "facial_area", "confidence"}


@pytest.mark.usefixtures("fake_engine")
def test_analyze_folder_keeps_two_faces_of_one_photo_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two photos, each with two faces whose embeddings are identical
    for name in ("a.jpg", "b.jpg"):
        (tmp_path / name).write_bytes(b"JPEG...")
    (tmp_path / "broken.png").write_bytes(b"nope")
    # When the folder is analysed
    code = cli.main(["faces", "analyze", str(tmp_path), "--json"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # Then the broken file is an error (exit 1) and no person holds both faces of a photo
    assert code == 1
    photos = {Path(line["image"]).name: line for line in lines[:-1]}
    assert photos["broken.png"]["error"] == "invalid_image"
    persons_a = [f["person"] for f in photos["a.jpg"]["faces"]]
    assert persons_a[0] != persons_a[1] or persons_a[0] is None
    summary = lines[-1]["summary"]
    assert summary["photos"] == 3
    assert summary["failed"] == 1
    assert summary["faces"] == 4
