"""``findme local up|status|down`` as a user runs them: separate processes, a state dir.

Starts its own stack on free ports (the session's ``local_stack`` is not touched).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from findme.local.stack import free_port, read_state

pytestmark = pytest.mark.integration


def findme(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "findme.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_up_status_down_and_clear_refusals(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    ports = ["--moto-port", str(free_port()), "--dynamodb-port", str(free_port())]
    # When the stack is brought up
    started = time.monotonic()
    up = findme("local", "up", "--state-dir", state, *ports, "--json")
    elapsed = time.monotonic() - started
    try:
        assert up.returncode == 0, up.stderr
        info = json.loads(up.stdout)
        print(f"findme local up: {elapsed:.1f} s wall, {info['start_s']:.1f} s inside")
        # Then it answers on 127.0.0.1, with the tables and bucket created
        env = read_state(Path(state))
        assert env is not None
        ddb = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            endpoint_url=info["endpoints"]["dynamodb"],
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        assert "findme-images" in ddb.list_tables()["TableNames"]
        assert info["endpoints"]["s3"].startswith("http://127.0.0.1:")
        assert (Path(state) / "stack.env").read_text().count("FINDME_") >= 8
        assert findme("local", "status", "--state-dir", state).returncode == 0
        # And starting it twice is refused with a clear message
        again = findme("local", "up", "--state-dir", state, *ports)
        assert again.returncode == 2
        assert "already running" in json.loads(again.stderr)["message"]
        # And its data cannot be reset under it
        refused = findme("local", "reset", "--state-dir", state)
        assert refused.returncode == 2
        assert "running" in json.loads(refused.stderr)["message"]
        s3 = boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url=info["endpoints"]["s3"],
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        s3.put_object(Bucket="findme-media", Key="originals/g/kept.jpg", Body=b"photo")
    finally:
        down = findme("local", "down", "--state-dir", state)
    # When brought down, the servers are gone
    assert down.returncode == 0
    assert "stopped" in down.stdout
    assert findme("local", "status", "--state-dir", state).returncode == 1
    for pid in info["pids"].values():
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )
    # The data outlives the servers: up again, the photo is there; reset deletes it all
    up = findme("local", "up", "--state-dir", state, *ports, "--json")
    try:
        assert up.returncode == 0, up.stderr
        s3 = boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url=json.loads(up.stdout)["endpoints"]["s3"],
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        kept = s3.get_object(Bucket="findme-media", Key="originals/g/kept.jpg")
        assert kept["Body"].read() == b"photo"
    finally:
        assert findme("local", "down", "--state-dir", state).returncode == 0
    reset = findme("local", "reset", "--state-dir", state)
    assert reset.returncode == 0, reset.stderr
    assert "dynamodb" in reset.stdout
    assert "moto" in reset.stdout
    assert not (Path(state) / "moto").exists()


def test_taken_port_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = findme(
            "local",
            "up",
            "--state-dir",
            str(tmp_path),
            "--moto-port",
            str(port),
            "--dynamodb-port",
            str(free_port()),
        )
    assert result.returncode == 2
    error = json.loads(result.stderr)
    assert error["error"] == "local_stack"
    assert f"port {port}" in error["message"]
    assert read_state(tmp_path) is None
