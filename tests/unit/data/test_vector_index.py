"""The VectorIndex contract on both local engines (qdrant-client local mode and Qdrant Edge),
in memory and on disk, and what only a local engine must do: one process per path, and (Edge)
points that survive ``kill -9`` and a directory left by local mode imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from contracts.records import unit_vector
from contracts.vector_index import VectorIndexContract
from findme import wiring
from findme.adapters.qdrant import QdrantVectorIndex
from findme.adapters.qdrant_edge import EdgeVectorIndex
from findme.config import Settings
from findme.errors import DependencyError
from findme.local.stack import _qdrant_in_use
from findme.ports import FaceVector, VectorIndex

ENGINES = ["client", "edge"]


def _settings(engine: str, path: str) -> Settings:
    return Settings(qdrant_path=path, qdrant_local_engine=engine)  # type: ignore[arg-type]


@pytest.fixture(params=[(e, s) for e in ENGINES for s in (":memory:", "directory")], ids=str)
def vectors(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorIndex]:
    engine, storage = request.param
    path = ":memory:" if storage == ":memory:" else str(tmp_path / "qdrant")
    index = wiring.build_vector_index(_settings(engine, path))
    index.ensure_collection()  # idempotent
    yield index
    index.close()  # type: ignore[attr-defined]


class TestLocalEngines(VectorIndexContract):
    """Every contract test, on both local engines and both storages."""


@pytest.mark.parametrize(
    ("engine", "adapter"), [("edge", EdgeVectorIndex), ("client", QdrantVectorIndex)]
)
def test_wiring_picks_the_local_engine(engine: str, adapter: type, tmp_path: Path) -> None:
    # Edge is the default without a Qdrant Cloud URL
    settings = Settings(qdrant_path=str(tmp_path / "q"))
    assert settings.qdrant_local_engine == "edge"
    index = wiring.build_vector_index(_settings(engine, str(tmp_path / "q")))
    try:
        assert isinstance(index, adapter)
    finally:
        index.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("engine", ENGINES)
def test_one_path_is_opened_once_per_process(engine: str, tmp_path: Path) -> None:
    # Given an index open on a directory
    settings = _settings(engine, str(tmp_path / "q"))
    first = wiring.build_vector_index(settings)
    try:
        # Then the local stack sees the path in use, and wiring hands every root on that
        # path (another Settings object, same directory) the same open index
        assert _qdrant_in_use(tmp_path / "q")
        other = settings.model_copy(update={"bucket": "another-bucket"})
        assert wiring.build_vector_index(other) is first
        # And a second holder of the directory (another process) is refused clearly
        with pytest.raises(DependencyError, match="one process per path"):
            wiring._open_vector_index(settings)
    finally:
        first.close()  # type: ignore[attr-defined]
    assert not _qdrant_in_use(tmp_path / "q")
    # And once closed, the next build opens it afresh
    again = wiring.build_vector_index(settings)
    try:
        assert again is not first
    finally:
        again.close()  # type: ignore[attr-defined]


_WRITER = textwrap.dedent(
    """
    import os, signal, sys, uuid
    import numpy as np
    from findme.adapters.qdrant_edge import EdgeVectorIndex
    from findme.config import Settings
    from findme.ports import FaceVector

    index = EdgeVectorIndex(Settings(qdrant_path=sys.argv[1]))
    index.ensure_collection()
    rng = np.random.default_rng(0)
    m = rng.standard_normal((300, 128)).astype(np.float32)
    index.upsert([FaceVector(str(uuid.UUID(int=i + 1)), "g", f"i{i}", m[i]) for i in range(300)])
    index.set_person([str(uuid.UUID(int=1))], "p1")
    index.delete_faces([str(uuid.UUID(int=2))])
    print("written", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_edge_points_survive_kill_9(tmp_path: Path) -> None:
    # Given a process that writes points and is killed with SIGKILL without closing the index
    path = tmp_path / "q"
    run = subprocess.run(
        [sys.executable, "-c", _WRITER, str(path)], capture_output=True, text=True, check=False
    )
    assert run.returncode == -9, run.stderr
    assert "written" in run.stdout
    # When the path is opened again
    index = EdgeVectorIndex(Settings(qdrant_path=str(path)))
    try:
        # Then every acknowledged write is there
        assert index.count("g") == 299
        assert index.get([str(uuid.UUID(int=1))])[0].person_id == "p1"
        assert index.get([str(uuid.UUID(int=2))]) == []
    finally:
        index.close()


def test_edge_imports_a_directory_left_by_local_mode(tmp_path: Path) -> None:
    # Given vectors written by qdrant-client's local mode
    path = str(tmp_path / "q")
    old = QdrantVectorIndex(_settings("client", path))
    old.ensure_collection()
    faces = [
        FaceVector(str(uuid.uuid4()), "g", "img", unit_vector(i), person_id="p" if i else None)
        for i in range(5)
    ]
    old.upsert(
        [
            *faces,
            FaceVector(str(uuid.uuid4()), "g", "s", unit_vector(9), kind="reference", user_id="u"),
        ]
    )
    old.close()
    # When the local stack opens the same directory with Qdrant Edge
    index = wiring.build_vector_index(_settings("edge", path))
    try:
        # Then the points, payloads and vectors came along
        assert index.count("g") == 5
        assert index.count("g", kind="reference") == 1
        got = {v.face_id: v for v in index.get([f.face_id for f in faces])}
        assert [got[f.face_id].person_id for f in faces] == [None, "p", "p", "p", "p"]
        np.testing.assert_allclose(got[faces[3].face_id].vector, faces[3].vector, atol=1e-6)
    finally:
        index.close()  # type: ignore[attr-defined]


def test_edge_flushes_every_few_thousand_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an Edge index that flushes every 10 points
    monkeypatch.setattr("findme.adapters.qdrant_edge.FLUSH_EVERY_POINTS", 10)
    index = EdgeVectorIndex(Settings(qdrant_path=str(tmp_path / "q")))
    try:
        # When 25 points are written one call at a time
        for i in range(25):
            index.upsert([FaceVector(str(uuid.uuid4()), "g", "i", unit_vector(i))])
        # Then the segments were flushed twice (a restart replays only the WAL's tail)
        assert index.flushes == 2
        assert index.count("g") == 25
    finally:
        index.close()
