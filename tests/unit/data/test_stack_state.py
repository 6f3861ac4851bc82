"""Local stack bookkeeping without starting servers: state files, stale pids, ports."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from findme.errors import LocalStackError
from findme.local.stack import (
    STATE_FILE,
    port_in_use,
    read_state,
    running_pids,
    settings_from_env,
    start_stack,
    stop_state,
)


def test_stale_state_is_not_running_and_down_cleans_it(tmp_path: Path) -> None:
    # Given a state file whose pids are gone (a crashed stack) or belong to something else
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state = {"pids": {"moto": dead.pid, "dynamodb": 1}, "endpoints": {}, "env": {}}
    (tmp_path / STATE_FILE).write_text(json.dumps(state))
    # Then nothing counts as running (pid 1 is not DynamoDB Local), and down only cleans up
    loaded = read_state(tmp_path)
    assert loaded is not None
    assert running_pids(loaded) == {}
    assert stop_state(tmp_path) == []
    assert read_state(tmp_path) is None


def test_taken_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert port_in_use(port)
        with pytest.raises(LocalStackError, match=f"port {port}"):
            start_stack(tmp_path, {"moto": port})
    assert not (tmp_path / "logs").exists()


def test_settings_from_env_reads_findme_variables_only() -> None:
    settings = settings_from_env(
        {
            "FINDME_BUCKET": "b-1",
            "FINDME_DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:1",
            "AWS_SECRET_ACCESS_KEY": "ignored",
        },
        table_prefix="t-",
    )
    assert (settings.bucket, settings.dynamodb_endpoint_url, settings.table_prefix) == (
        "b-1",
        "http://127.0.0.1:1",
        "t-",
    )
