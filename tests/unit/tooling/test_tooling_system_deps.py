"""``.ci/system-deps`` (run by ``make run`` and ``make test``): Java 17 with javac and Node
with npm are installed from Debian when missing and root, else one line says what to install
(issue 12: a fresh machine ended in a stack trace). Every tool is a fake on a private PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / ".ci" / "system-deps"


def fake(bin_dir: Path, name: str, body: str = "exit 0") -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH with the script's shell tools and nothing else."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sed", "id", "sh"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    return bin_dir


def run(bin_dir: Path, uid: int) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    assert bash is not None
    env = {"PATH": str(bin_dir), "FINDME_UID": str(uid), "HOME": os.environ.get("HOME", "/")}
    return subprocess.run([bash, str(SCRIPT)], env=env, capture_output=True, text=True, check=False)


def java(bin_dir: Path, version: str) -> None:
    fake(bin_dir, "java", f"echo 'openjdk version \"{version}\" 2024-01-16' >&2")
    fake(bin_dir, "javac")


def test_nothing_to_do_when_java_17_and_npm_are_there(bin_dir: Path) -> None:
    java(bin_dir, "17.0.9")
    fake(bin_dir, "npm")
    done = run(bin_dir, uid=1000)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.parametrize("old_java", [None, "11.0.21", "1.8.0_392"])
def test_a_user_is_told_in_one_line_what_to_install(bin_dir: Path, old_java: str | None) -> None:
    # Given no npm and no Java 17 (none, or an older one), When a non-root user runs make
    if old_java:
        java(bin_dir, old_java)
    done = run(bin_dir, uid=1000)
    # Then it stops with one line naming the Debian packages, and no trace
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "missing openjdk-17-jdk-headless nodejs npm: install them (Debian/Ubuntu: sudo apt-get "
        "install openjdk-17-jdk-headless nodejs npm) and run make again"
    ]


def test_root_gets_them_from_debian(bin_dir: Path, tmp_path: Path) -> None:
    # Given root on Debian with Java 17 but without javac and npm
    log = tmp_path / "apt.log"
    fake(bin_dir, "apt-get", f'echo "$@" >> {log}')
    java(bin_dir, "17.0.9")
    (bin_dir / "javac").unlink()
    # When make runs, Then apt-get installs exactly what is missing
    done = run(bin_dir, uid=0)
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == [
        "update -qq",
        "install -y -qq openjdk-17-jdk-headless nodejs npm",
    ]
