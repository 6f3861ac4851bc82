"""``findme faces ...`` end to end: real models, a real photo, and bad files."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.models]


@pytest.mark.usefixtures("model_dir")
def test_embed_jsonl_real_photo_and_bad_files(faces_dev: Path, tmp_path: Path) -> None:
    # Given a real photo, a zero-byte file and a truncated JPEG
    photo = faces_dev / "images" / "couple.jpg"
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(photo.read_bytes()[:20_000])
    # When embedded in one run
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "findme.cli",
            "faces",
            "embed",
            "--jsonl",
            str(photo),
            str(empty),
            str(truncated),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    # Then one JSON line per image, errors as objects, exit 1, never a traceback
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1
    good, bad_empty, bad_truncated = (json.loads(line) for line in proc.stdout.splitlines())
    assert len(good["faces"]) == 2
    face = good["faces"][0]
    assert len(face["embedding"]) == 128
    assert base64.b64decode(face["face_b64"])[:2] == b"\xff\xd8"
    assert set(face["features"]["landmarks"]) >= {"left_eye", "right_eye", "nose"}
    assert face["features"]["gender"] in {"female", "male"}
    assert bad_empty["error"] == bad_truncated["error"] == "invalid_image"
