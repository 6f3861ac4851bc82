"""The README's committed screenshots (``make screenshots``, docs/screenshots/): each is small,
embedded in the README, listed with what it shows, and made from licence-clear sources only
(faces-dev's photos may be used for tests but not redistributed)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[3]
SHOTS = ROOT / "docs" / "screenshots"
#: file -> the viewport it is taken at (organiser desktop, attendee phone).
EXPECTED = {
    "organiser-persons.png": (1280, 800),
    "attendee-my-photos.png": (390, 844),
    "organiser-members.png": (1280, 800),
}


def test_each_screenshot_is_small_sized_as_its_viewport_and_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    notes = (SHOTS / "README.md").read_text()
    assert sorted(p.name for p in SHOTS.glob("*.png")) == sorted(EXPECTED)
    for name, size in EXPECTED.items():
        path = SHOTS / name
        assert path.stat().st_size <= 200_000, name
        with Image.open(path) as image:
            assert image.size == size, name
        assert f"docs/screenshots/{name}" in readme
        assert f"`{name}`" in notes


def test_the_generator_reads_only_the_pinned_package_images() -> None:
    """Given generate.py, then its sources are files inside pinned wheels, each with a
    SHA-256 and a row in the licence table, and it names no data set of the project."""
    source = (SHOTS / "generate.py").read_text()
    assert not re.search(r"faces-dev/|event-dev/|shared/data|FACES_DEV", source)
    tree = ast.parse(source)
    (sources,) = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id == "SOURCES"
    ]
    entries = ast.literal_eval(sources)
    notes = (SHOTS / "README.md").read_text()
    for requirement, member, sha256 in entries.values():
        assert re.fullmatch(r"[\w-]+==[\d.]+", requirement)
        assert re.fullmatch(r"[0-9a-f]{64}", sha256)
        assert member.rsplit("/", 1)[-1] in notes, member
