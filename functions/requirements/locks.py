"""The dependency locks: every distribution FindMe installs, pinned by version and sha256.

One lock per installation, all resolved from ``pyproject.toml`` by ``uv pip compile`` (universal:
one file serves Python 3.11/3.12 on x86_64 and arm64) and all agreeing on shared versions:

- ``runtime.lock``: the closure of ``findme[api,digest,cluster,zip]`` (what runs in Lambda);
- ``dev.lock``: the whole development/CI venv (runtime + local stack + CDK + test tools),
  constrained by ``runtime.lock`` so the tests run the very versions the images ship;
- ``digest.lock``, ``cluster.lock``, ``zip.lock``: each container image's own closure,
  constrained by ``runtime.lock`` (``functions/digest/Dockerfile`` and
  ``functions/worker.Dockerfile`` install them with ``--require-hashes``).

``make setup`` installs ``dev.lock`` with ``pip --require-hashes`` and never resolves, so a new
release upstream cannot change what a fresh clone installs. ``make lock`` (this script) refreshes
them on purpose, keeping every pin that still satisfies ``pyproject.toml``;
``make lock UPGRADE=1`` moves the transitive pins to the newest releases::

    .venv/bin/python functions/requirements/locks.py [--upgrade]
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from packaging.markers import Marker

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PYPROJECT = ROOT / "pyproject.toml"

#: lock name -> extras of findme it pins (dev: every extra; images: their own).
LOCKS: dict[str, tuple[str, ...]] = {
    "runtime": ("api", "digest", "cluster", "zip"),
    "dev": ("api", "digest", "cluster", "zip", "local", "infra", "dev"),
    "digest": ("digest", "api"),
    "cluster": ("cluster",),
    "zip": ("zip",),
}

_PIN = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$"
)


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_path(name: str) -> Path:
    """``functions/requirements/<name>.lock``."""
    return HERE / f"{name}.lock"


def read_lock(name: str, *, this_interpreter: bool = True) -> dict[str, str]:
    """Canonical distribution name -> version pinned by lock ``name``.

    With ``this_interpreter``, entries whose environment marker is false here (another
    platform or Python version) are skipped; otherwise every entry is kept (the last of forks).

    Raises:
        FileNotFoundError: the lock does not exist (run ``make lock``).
    """
    pins: dict[str, str] = {}
    for line in lock_path(name).read_text().splitlines():
        match = _PIN.match(line.strip())
        if not match:
            continue
        dist, version, marker = match.groups()
        if this_interpreter and marker and not Marker(marker).evaluate():
            continue
        pins[canonical(dist)] = version
    return pins


def compile_lock(name: str, uv: str, *, upgrade: bool = False) -> None:
    """Write ``<name>.lock`` with ``uv pip compile`` (sha256 hashes, universal markers).

    uv keeps the pins already in the output file when they still satisfy the requirements, so
    a refresh without ``upgrade`` only moves what ``pyproject.toml`` changed.

    Raises:
        subprocess.CalledProcessError: the requirements do not resolve.
    """
    cmd = [uv, "pip", "compile", str(PYPROJECT), "--universal", "--generate-hashes"]
    cmd += ["--no-header", "--annotation-style", "line", "--quiet"]
    cmd += [arg for extra in LOCKS[name] for arg in ("--extra", extra)]
    if name != "runtime":
        cmd += ["--constraint", str(lock_path("runtime"))]
    elif upgrade:
        cmd.append("--upgrade")
    cmd += ["--output-file", str(lock_path(name))]
    subprocess.run(cmd, check=True, cwd=ROOT)  # noqa: S603


def main(argv: list[str]) -> int:
    """Refresh every lock, runtime first (the others are constrained by it)."""
    uv = str(Path(sys.executable).with_name("uv"))
    upgrade = "--upgrade" in argv
    for name in LOCKS:
        compile_lock(name, uv, upgrade=upgrade)
        print(f"wrote {lock_path(name).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
