"""Peak memory of each Lambda handler on real work, each in a fresh process (prints JSON).

What Lambda's ``Max Memory Used`` would show, measured here so the functions are sized from
figures (infra/README.md "Function sizing"). The parent starts the local stack (moto server +
DynamoDB Local; Qdrant local mode under a temporary path) and seeds it; every workload then
runs in its own child process that imports ``functions/<name>/handler.py`` (as Lambda does),
calls it with the event its trigger sends, and reports the peak resident set
of that process (``VmHWM``: interpreter, imports, models, work), the RSS before the event,
wall and CPU seconds. Models load inside the measured process, as on a cold start. Qdrant
runs in local mode, which holds the whole collection inside the process that opens it (in AWS
it is Qdrant Cloud, over the network): that share is measured (``qdrant_local_mode_mib``) and
left out of ``lambda_estimate_mib``, and the cluster group gets a collection of its own.

Workloads (real models, real photos from ``../shared/data``):

- ``digest``: one Distributed Map batch of all 64 faces-dev photos (the map sends 8; one
  invocation through many photos also shows any creep), with the deployed layout: 2 photos
  at once (``FINDME_DIGEST_WORKERS=2``), ``FINDME_ORT_THREADS=1``;
- ``digest_50mp``: one batch holding a 50 MP JPEG and a 50 MP PNG (a faces-dev photo scaled
  to just under ``max_image_pixels``): the decoder's worst case (a PNG decodes whole);
- ``curation``: one ``reprocess`` map batch of 50 of those photos (the ItemBatcher's size);
- ``cluster``: the cluster task on a group of ``--cluster-faces`` (30,000) synthetic faces
  (:func:`findme.local.synthetic.synthetic_faces`; items cloned from a real digested face,
  so DynamoDB records have real attributes), read from DynamoDB Local and Qdrant (at 100,000
  DynamoDB Local's 384 MB heap fails the group's query: ``benchmarks/cluster.py`` measures
  the clustering alone there);
- ``zip``: a download job of 1,000 photos (the API's maximum: faces-dev + event-dev);
- ``api``: Mangum events (API Gateway HTTP API v2) for ``/get-embedding`` with the three
  largest faces-dev photos, then with the 50 MP PNG by ``selfie_key`` (a presigned upload:
  too big for a request body), ``FINDME_ORT_THREADS=1``.

The machine is shared: the 1-minute load average is reported per run.

    .venv/bin/python benchmarks/memory.py [--only digest,api] [--cluster-faces 30000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FINDME_DATA", REPO_ROOT.parent / "shared" / "data"))
WORKLOADS = ("digest", "digest_50mp", "curation", "cluster", "zip", "api")
MIB = 1024 * 1024
#: The digest Lambda's layout (FINDME_ORT_THREADS, FINDME_DIGEST_WORKERS) in the CDK stack.
DIGEST_ORT_THREADS, DIGEST_WORKERS = "1", "2"


# --- children: one workload each, in a fresh interpreter -------------------------------------
def _status_mib(field: str) -> float:
    """``VmHWM`` (peak RSS) or ``VmRSS`` of this process from ``/proc/self/status``, MiB.

    Not ``ru_maxrss``: Linux carries the parent's high-water mark into a child across
    vfork + exec (``posix_spawn``), so a small child of a big parent reports the parent's
    peak. ``VmHWM`` belongs to the address space exec created.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(name: str, state: dict[str, Any]) -> dict[str, Any]:
    """Run workload ``name`` through its handler; the figures of this process."""
    from findme import wiring
    from findme.local.orchestrator import invoke, load_handler

    function = {"digest_50mp": "digest"}.get(name, name)
    events: list[dict[str, Any]] = state["events"][name]
    load_handler(function)  # the module import a cold start does (Powertools, the app...)
    qdrant_local = 0.0
    if function in ("digest", "curation", "cluster"):
        # Qdrant local mode holds the whole collection in this process; in AWS it is Qdrant
        # Cloud, across the network: measured here and subtracted from the Lambda estimate.
        import findme.adapters.qdrant  # noqa: F401 (the client library loads in Lambda too)

        rss = _status_mib("VmRSS")
        wiring.vector_index()
        qdrant_local = _status_mib("VmRSS") - rss
    before = _status_mib("VmRSS")
    cpu0, t0 = time.process_time(), time.perf_counter()
    outputs = [invoke(function, event) for event in events]
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    summary: Any = outputs[-1]
    if function == "api":
        summary = [o["statusCode"] for o in outputs]
    elif isinstance(summary, dict):
        summary = {k: v for k, v in summary.items() if isinstance(v, int | float | str)}
    peak = _status_mib("VmHWM")
    return {
        "workload": name,
        "peak_rss_mib": round(peak, 1),
        "qdrant_local_mode_mib": round(qdrant_local, 1),
        "lambda_estimate_mib": round(peak - qdrant_local, 1),
        "rss_before_event_mib": round(before, 1),
        "seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "events": len(events),
        "output": summary,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


# --- parent: stack, seed data, one child per workload ----------------------------------------
def _fifty_megapixels(photo: Path) -> dict[str, bytes]:
    """The photo scaled to 8660x5773 (49,994,180 px, just under ``max_image_pixels``) as a
    JPEG (decoded at a reduced scale by libjpeg) and as a PNG (decoded whole: 150 MB of BGR)."""
    import cv2

    image = cv2.imread(str(photo))
    size = (8660, 5773)
    smooth = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
    ok_jpeg, jpeg = cv2.imencode(".jpg", smooth, [cv2.IMWRITE_JPEG_QUALITY, 90])
    # nearest-neighbour blocks compress to a few MB, well under max_upload_bytes
    blocky = cv2.resize(image, size, interpolation=cv2.INTER_NEAREST)
    ok_png, png = cv2.imencode(".png", blocky, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    assert ok_jpeg
    assert ok_png
    return {".jpg": bytes(jpeg), ".png": bytes(png)}


def _multipart(*, image: bytes | None = None, selfie_key: str | None = None) -> tuple[bytes, str]:
    """A multipart body with the ``image`` file or the ``selfie_key`` field."""
    boundary = "findme-memory-benchmark"
    if image is not None:
        part = (
            b'Content-Disposition: form-data; name="image"; filename="p.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n"
        ) + image
    else:
        part = f'Content-Disposition: form-data; name="selfie_key"\r\n\r\n{selfie_key}'.encode()
    body = f"--{boundary}\r\n".encode() + part + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def seed(settings: Any, args: argparse.Namespace, runner: Runner) -> None:
    """Write what each workload reads and record its events in ``runner.state``."""
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from api_gateway_events import v2_event
    from findme import wiring
    from findme.domain.faces import face_id_for
    from findme.domain.keys import KeyScheme
    from findme.domain.records import Group, Image, ImageStatus, Job, JobType, Role, User
    from findme.local.synthetic import synthetic_faces
    from findme.ports import FaceVector
    from findme.services import selfie_uploads
    from findme.services.auth import TokenService, resolve_jwt_secret

    state = runner.state
    events: dict[str, list[dict[str, Any]]] = state["events"]
    store, metadata = wiring.object_store(), wiring.metadata_store()
    keys = KeyScheme.from_settings(settings)
    owner = User(
        user_id=str(uuid.uuid4()), phone_number="+14155550100", name="Bench", role=Role.ADMIN
    )
    metadata.put_user(owner)
    photos = sorted((DATA / "faces-dev" / "images").glob("*.jpg"))
    group = Group(group_id=str(uuid.uuid4()), name="memory", owner_id=owner.user_id)
    metadata.put_group(group)
    items = []
    for photo in photos:
        key = keys.original(group.group_id, str(uuid.uuid4()), ".jpg")
        store.put(key, photo.read_bytes(), "image/jpeg", {"file-name": photo.name})
        items.append({"Key": key, "Size": photo.stat().st_size})
    events["digest"] = [{"Items": items, "BatchInput": {"job_id": None, "force": True}}]
    big_items = []
    fifty = _fifty_megapixels(max(photos, key=lambda p: p.stat().st_size))
    for ext, data in fifty.items():
        big_key = keys.original(group.group_id, str(uuid.uuid4()), ext)
        store.put(big_key, data, f"image/{ext[1:].replace('jpg', 'jpeg')}", {"file-name": ext})
        big_items.append({"Key": big_key, "Size": len(data)})
    events["digest_50mp"] = [{"Items": big_items, "BatchInput": {"force": True}}]
    state["50mp_bytes"] = [i["Size"] for i in big_items]
    wanted = set(args.only)
    if wanted & {"curation", "cluster", "zip"}:
        print(runner.run("digest"), file=sys.stderr)  # the photos must be digested first
    image_ids = [keys.parse_original(i["Key"]).image_id for i in items]

    reprocess_job = Job(job_id=str(uuid.uuid4()), job_type=JobType.REPROCESS, total=50)
    metadata.put_job(reprocess_job)
    events["curation"] = [
        {
            "Items": image_ids[:50],
            "BatchInput": {
                "workflow": "reprocess",
                "job_id": reprocess_job.job_id,
                "group_id": group.group_id,
            },
        }
    ]

    if "cluster" in wanted:
        from findme.adapters.qdrant import QdrantVectorIndex

        template = next(f for f in metadata.list_faces_of_group(group.group_id))
        # its own local collection, so the other workloads do not load 100k points
        crowd_vectors = QdrantVectorIndex(settings.model_copy(update={"qdrant_path": args.crowd}))
        crowd_vectors.ensure_collection()
        crowd = Group(group_id=str(uuid.uuid4()), name="crowd", owner_id=owner.user_id)
        metadata.put_group(crowd)
        faces = synthetic_faces(args.cluster_faces, seed=7)
        seen: dict[str, int] = {}
        records, vectors = [], []
        for embedding, image_key in zip(faces.embeddings, faces.image_ids, strict=True):
            index = seen[image_key] = seen.get(image_key, -1) + 1
            image_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{crowd.group_id}/{image_key}"))
            face_id = face_id_for(image_id, index)
            records.append(
                replace(
                    template,
                    face_id=face_id,
                    image_id=image_id,
                    group_id=crowd.group_id,
                    face_index=index,
                    person_id=None,
                    thumbnail_key=keys.face_thumbnail(crowd.group_id, face_id),
                )
            )
            vectors.append(FaceVector(face_id, crowd.group_id, image_id, embedding))
        started = time.perf_counter()
        for i in range(0, len(records), 5000):
            metadata.put_faces(records[i : i + 5000])
            crowd_vectors.upsert(vectors[i : i + 5000])
        crowd_vectors.close()
        print(
            f"seeded {len(records)} faces in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
        events["cluster"] = [{"group_id": crowd.group_id}]

    zip_ids = list(image_ids)
    event_photos = sorted((DATA / "event-dev" / "images").glob("*.jpg"))
    for photo in event_photos[: 1000 - len(zip_ids)]:
        image_id = str(uuid.uuid4())
        key = keys.original(group.group_id, image_id, ".jpg")
        store.put(key, photo.read_bytes(), "image/jpeg")
        metadata.put_image(
            Image(
                image_id=image_id,
                group_id=group.group_id,
                s3_key=key,
                status=ImageStatus.PROCESSED,
                file_name=photo.name,
                size_bytes=photo.stat().st_size,
            )
        )
        zip_ids.append(image_id)
    download = Job(
        job_id=str(uuid.uuid4()),
        job_type=JobType.DOWNLOAD,
        user_id=owner.user_id,
        params={"image_ids": zip_ids},
        total=len(zip_ids),
    )
    metadata.put_job(download)
    events["zip"] = [{"job_id": download.job_id}]

    token = TokenService(settings, resolve_jwt_secret(settings, wiring.secret_store)).issue(owner)
    bodies = [
        _multipart(image=p.read_bytes())
        for p in sorted(photos, key=lambda p: -p.stat().st_size)[:3]
    ]
    # the 50 MP PNG too big for a request body: a presigned upload in the user's slot
    slot = selfie_uploads.user_slot(owner.user_id)
    upload_key = keys.selfie_upload(slot, str(uuid.uuid4()), ".png")
    store.put(upload_key, fifty[".png"], "image/png")
    bodies.append(_multipart(selfie_key=upload_key))
    events["api"] = [
        v2_event(
            "POST",
            "/get-embedding",
            headers={"content-type": ctype, "authorization": f"Bearer {token.access_token}"},
            body=body,
        )
        for body, ctype in bodies
    ]


class Runner:
    """Runs one workload in a child process with the stack's environment."""

    def __init__(self, env: dict[str, str], state_file: Path) -> None:
        self.env = env
        self.state_file = state_file
        self.state: dict[str, Any] = {"events": {}}
        self.done: dict[str, dict[str, Any]] = {}
        #: workload -> extra environment (the cluster group's own Qdrant path)
        self.env_of: dict[str, dict[str, str]] = {}

    def run(self, name: str) -> dict[str, Any]:
        if name in self.done:
            return self.done[name]
        self.state_file.write_text(json.dumps(self.state))
        # The deployed layouts (infra/findme_infra/stack.py): api 1 thread; digest and
        # curation DIGEST_WORKERS photos at once, 1 onnxruntime thread each.
        threads = "1" if name == "api" else DIGEST_ORT_THREADS
        workers = "1" if name == "api" else DIGEST_WORKERS
        env = {
            **self.env,
            "FINDME_ORT_THREADS": threads,
            "FINDME_DIGEST_WORKERS": workers,
            **self.env_of.get(name, {}),
        }
        proc = subprocess.run(
            [sys.executable, __file__, "--child", name, "--state", str(self.state_file)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"{name} failed:\n{proc.stderr[-4000:]}")
        self.done[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        self.done[name]["ort_threads"] = int(threads)
        self.done[name]["digest_workers"] = int(workers)
        return self.done[name]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    # DynamoDB Local (384 MB heap) fails a 100k-item query: benchmarks/cluster.py measures 100k
    parser.add_argument("--cluster-faces", type=int, default=30_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, json.loads(Path(args.state).read_text()))))
        return 0
    args.only = [w for w in args.only.split(",") if w]
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    from findme.local.stack import start_stack

    with tempfile.TemporaryDirectory(prefix="findme-membench-") as tmp:
        stack = start_stack(Path(tmp), qdrant_path=str(Path(tmp) / "qdrant"), persist=False)
        try:
            # DynamoDB Local pages a 100k-item query slowly on a busy machine: wait longer than
            # PynamoDB's 30 s read timeout (memory is what is measured, not DynamoDB's speed).
            pynamodb_settings = Path(tmp) / "pynamodb_settings.py"
            pynamodb_settings.write_text("read_timeout_seconds = 600\n")
            env = {
                **os.environ,
                **stack.env,
                "PYNAMODB_CONFIG": str(pynamodb_settings),
                "POWERTOOLS_LOG_LEVEL": "WARNING",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_NAMESPACE": "FindMe",
            }
            os.environ.update(env)
            runner = Runner(env, Path(tmp) / "state.json")
            args.crowd = str(Path(tmp) / "qdrant-crowd")
            runner.env_of["cluster"] = {"FINDME_QDRANT_PATH": args.crowd}
            seed(stack.settings(), args, runner)
            for name in args.only:
                print(json.dumps(runner.run(name)), file=sys.stderr)
        finally:
            stack.stop()
    print(
        json.dumps(
            {
                "benchmark": "memory",
                "cpu_count": os.cpu_count(),
                "cluster_faces": args.cluster_faces,
                "digest_50mp_bytes": runner.state.get("50mp_bytes"),
                "runs": [runner.done[n] for n in args.only],
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
