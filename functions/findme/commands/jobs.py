"""``findme upload GROUP DIR`` and ``findme cluster GROUP`` on the local stack (or any stage).

``upload`` puts photos into the bucket under ``originals/{group_id}/{image_id}{ext}``; the
bucket's ObjectCreated notification then feeds the digest worker of ``findme local run``, so
the photos are processed, and the group re-clustered once the queue is idle, with no further
command. ``--process`` digests and clusters in this
process instead (when no server is running: Qdrant local mode allows one process per path).
Image ids are ``uuid5(group_id, sha256(file))``: uploading a folder twice adds nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from findme import wiring
from findme.config import get_settings
from findme.domain.faces import FINDME_NAMESPACE
from findme.domain.keys import CONTENT_TYPES, KeyScheme
from findme.domain.records import Group, Image, ImageStatus
from findme.errors import DependencyError, InvalidInputError, LocalStackError, NotFoundError
from findme.ports import MetadataStore, ObjectStore

#: Owner recorded on groups the CLI creates.
CLI_OWNER = "findme-cli"


def register(subparsers: Any) -> None:
    upload = subparsers.add_parser(
        "upload", help="upload a folder of photos into a group (creates the group if missing)"
    )
    upload.add_argument("group", help="group id (created, with this id as its name, if missing)")
    upload.add_argument("directory", type=Path, help="folder of photos (.jpg .png .webp .heic ...)")
    upload.add_argument("--recursive", action="store_true", help="include sub-folders")
    upload.add_argument(
        "--wait", action="store_true", help="wait until every photo is processed or failed"
    )
    upload.add_argument(
        "--process",
        action="store_true",
        help="digest and cluster in this process (no running server needed)",
    )
    upload.add_argument("--timeout", type=float, default=900.0, help="--wait limit, seconds")
    upload.set_defaults(func=_upload)

    cluster = subparsers.add_parser("cluster", help="cluster a group's faces into persons")
    cluster.add_argument("group", help="group id")
    cluster.add_argument("--eps", type=float, help="DBSCAN eps (cosine distance)")
    cluster.add_argument("--min-samples", type=int, help="DBSCAN min_samples")
    cluster.set_defaults(func=_cluster)


# --- upload -------------------------------------------------------------------------------
def photo_files(directory: Path, *, recursive: bool = False) -> Iterator[Path]:
    """Photos in ``directory`` by extension (:data:`~findme.domain.keys.CONTENT_TYPES`)."""
    pattern = "**/*" if recursive else "*"
    for path in sorted(directory.glob(pattern)):
        if path.is_file() and path.suffix.lower() in CONTENT_TYPES:
            yield path


def image_id_for(group_id: str, data: bytes) -> str:
    """Deterministic image id: ``uuid5(namespace, "{group_id}:{sha256(data)}")``."""
    digest = hashlib.sha256(data).hexdigest()
    return str(uuid.uuid5(FINDME_NAMESPACE, f"{group_id}:{digest}"))


def ensure_group(metadata: MetadataStore, group_id: str) -> tuple[Group, bool]:
    """The group, created with ``group_id`` as id and name when missing -> (group, created)."""
    try:
        return metadata.get_group(group_id), False
    except NotFoundError:
        from findme.services.groups import new_invite_code

        KeyScheme().group_originals(group_id)  # validates the id's characters
        group = Group(
            group_id=group_id, name=group_id, owner_id=CLI_OWNER, invite_code=new_invite_code()
        )
        metadata.put_group(group)
        return group, True


def upload_directory(
    group_id: str,
    directory: Path,
    *,
    store: ObjectStore,
    metadata: MetadataStore,
    keys: KeyScheme,
    recursive: bool = False,
) -> dict[str, Any]:
    """Upload every photo of ``directory`` into ``group_id`` (image item, then the object).

    Returns:
        ``{"uploaded": [image ids], "already_there": [image ids], "keys": {file: key}}``.

    Raises:
        InvalidInputError: not a directory, or no photos in it.
    """
    if not directory.is_dir():
        raise InvalidInputError(f"{directory} is not a directory", field="directory")
    files = list(photo_files(directory, recursive=recursive))
    if not files:
        raise InvalidInputError(f"no photos in {directory}", field="directory")
    uploaded: list[str] = []
    already: list[str] = []
    key_of: dict[str, str] = {}
    for path in files:
        data = path.read_bytes()
        image_id = image_id_for(group_id, data)
        ext = path.suffix.lower()
        key = keys.original(group_id, image_id, ext)
        key_of[str(path.relative_to(directory))] = key
        if store.head(key) is not None:
            already.append(image_id)
            continue
        content_type = CONTENT_TYPES[ext]
        metadata.put_image(
            Image(
                image_id=image_id,
                group_id=group_id,
                s3_key=key,
                status=ImageStatus.UPLOADED,
                file_name=path.name,
                content_type=content_type,
                size_bytes=len(data),
                uploaded_by=CLI_OWNER,
            )
        )
        store.put(
            key, data, content_type, metadata={"file-name": path.name, "uploaded-by": CLI_OWNER}
        )
        uploaded.append(image_id)
    return {"uploaded": uploaded, "already_there": already, "keys": key_of}


def wait_for_images(
    metadata: MetadataStore, image_ids: list[str], *, timeout_s: float, poll_s: float = 1.0
) -> dict[str, int]:
    """Poll image statuses until none is ``uploaded``/``processing`` -> counts per status.

    Prints a progress line to stderr while waiting.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        counts: dict[str, int] = {}
        for image_id in image_ids:
            status = str(metadata.get_image(image_id).status)
            counts[status] = counts.get(status, 0) + 1
        pending = counts.get("uploaded", 0) + counts.get("processing", 0)
        print(f"\r{json.dumps(counts, sort_keys=True)}", end="", file=sys.stderr, flush=True)
        if pending == 0 or time.monotonic() > deadline:
            print(file=sys.stderr)
            return counts
        time.sleep(poll_s)


def use_running_stack() -> None:
    """Point this process at the local stack of ``findme local up``/``run`` when it runs.

    On stage ``local`` with no endpoint configured, the running stack's env (``stack.json``)
    is applied and the wiring reset; with neither, a clear error says how to start one.

    Raises:
        LocalStackError: stage ``local``, no endpoint set and no stack running.
    """
    settings = get_settings()
    if settings.stage != "local" or settings.aws_endpoint_url:
        return
    from findme.local.stack import read_state, running_pids

    state = read_state(settings.local_state_dir)
    if state is None or not running_pids(state):
        raise LocalStackError(
            "no local stack is running: start it with `make run` (or `findme local up`), "
            "or set FINDME_AWS_ENDPOINT_URL / FINDME_STAGE"
        )
    os.environ.update({str(k): str(v) for k, v in dict(state.get("env", {})).items()})
    wiring.reset()


def _upload(args: argparse.Namespace) -> int:
    use_running_stack()
    settings = get_settings()
    metadata = wiring.metadata_store()
    group, created = ensure_group(metadata, args.group)
    if created:
        print(
            f"created group {group.group_id!r} (invite code {group.invite_code})", file=sys.stderr
        )
    result = upload_directory(
        group.group_id,
        args.directory,
        store=wiring.object_store(),
        metadata=metadata,
        keys=KeyScheme.from_settings(settings),
        recursive=args.recursive,
    )
    uploaded, already = len(result["uploaded"]), len(result["already_there"])
    print(f"uploaded {uploaded} photo(s), {already} already there", file=sys.stderr)
    summary: dict[str, Any] = {
        "group_id": group.group_id,
        "group_created": created,
        "uploaded": len(result["uploaded"]),
        "already_there": len(result["already_there"]),
    }
    image_ids = result["uploaded"] + result["already_there"]
    if args.process:
        summary["workflow"] = _run_workflow(
            "digest_prefix", {"group_id": group.group_id, "cluster": True}
        )
    elif args.wait:
        counts = wait_for_images(metadata, image_ids, timeout_s=args.timeout)
        summary["statuses"] = counts
        if counts.get("uploaded", 0) + counts.get("processing", 0):
            print(
                "timed out: is `findme local run` (the digest worker) running? Or use --process.",
                file=sys.stderr,
            )
            print(json.dumps(summary, indent=2))
            return 1
    print(json.dumps(summary, indent=2, default=str))
    return 0


# --- cluster ------------------------------------------------------------------------------
def _cluster(args: argparse.Namespace) -> int:
    use_running_stack()
    wiring.metadata_store().get_group(args.group)
    payload: dict[str, Any] = {"group_id": args.group}
    if args.eps is not None:
        payload["eps"] = args.eps
    if args.min_samples is not None:
        payload["min_samples"] = args.min_samples
    print(json.dumps(_run_workflow("cluster", payload), indent=2, default=str))
    return 0


def _run_workflow(workflow: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Run a workflow in this process (it opens the Qdrant store: one process per path)."""
    from findme.local.orchestrator import InProcessOrchestrator

    try:
        wiring.vector_index()
    except DependencyError as exc:  # local mode: the path is locked by another process
        raise LocalStackError(
            "the vector store is unavailable, held by another process (the `findme local run` "
            "server?): its worker digests uploads and re-clusters groups by itself; stop it "
            f"to run {workflow} here",
            cause=exc.message,
            **exc.details,
        ) from exc
    orchestrator = InProcessOrchestrator(
        store_factory=wiring.object_store, metadata_factory=wiring.metadata_store
    )
    try:
        return orchestrator.run(workflow, payload)
    finally:
        orchestrator.shutdown()
        close = getattr(wiring.vector_index(), "close", None)
        if callable(close):  # release the local-mode lock now, not at interpreter exit
            close()
