"""``findme eval event IMAGES_DIR LABELS_CSV``: "my photos" precision/recall on a labelled event.

Runs :func:`findme.services.evaluation.run_event` (digest, cluster, registration, personal
matches: the services the Lambdas run) on in-process stores that behave as the deployed
ones: DynamoDB and S3 on moto (``mock_aws``, the AWS API emulated in this process), Qdrant
in local ``:memory:`` mode (the qdrant-client code path of Qdrant Cloud), the real ONNX face
engine. Nothing touches the local stack or AWS. Age/gender/emotion are switched off: they do
not take part in matching.

``--pad 0.5`` (default) adds a 50 % grey border around each photo, as the event-dev README
asks for its tight crops, so the detector sees whole heads; use ``--pad 0`` for real photos.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import threading
import uuid
from pathlib import Path
from typing import Any, TypeVar, cast

from findme.config import Settings
from findme.errors import InvalidInputError


def register(subparsers: Any) -> None:
    evaluate = subparsers.add_parser("eval", help="evaluate matching on labelled data")
    sub = evaluate.add_subparsers(dest="eval_command", required=True)
    event = sub.add_parser(
        "event", help='"my photos" precision/recall and persons BCubed on a labelled event'
    )
    event.add_argument("images", type=Path, help="folder of the event's photos")
    event.add_argument("labels", type=Path, help="CSV with columns file,identity")
    event.add_argument("--json", action="store_true", help="print the JSON report only")
    event.add_argument("--attendees", type=int, help="evaluate a seeded sample of attendees")
    event.add_argument("--guests", type=int, help="upload a seeded sample of guests")
    event.add_argument("--seed", type=int, default=0, help="sampling seed")
    event.add_argument(
        "--pad", type=float, default=0.5, help="grey border, share of the photo side per side"
    )
    event.add_argument("--workers", type=int, default=2, help="photos digested in parallel")
    event.add_argument(
        "--incremental-share",
        type=float,
        default=0.0,
        help="share of photos uploaded after clustering (digest places their new faces)",
    )
    event.add_argument(
        "--cluster-method", choices=["average", "dbscan"], help="override FINDME_CLUSTER_METHOD"
    )
    event.set_defaults(func=_event)


def padded_loader(pad: float) -> Any:
    """Photo path -> JPEG bytes, with a grey border of ``pad`` x the side on every side.

    Raises:
        InvalidInputError: ``pad`` outside ``[0, 2]`` or an unreadable photo.
    """
    if not 0.0 <= pad <= 2.0:
        raise InvalidInputError("--pad must be in [0, 2]", field="pad")

    def load(path: Path) -> bytes:
        if pad == 0:
            return path.read_bytes()
        import cv2

        pixels = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if pixels is None:
            raise InvalidInputError(f"cannot read {path}", field="images")
        h, w = pixels.shape[:2]
        dy, dx = int(h * pad), int(w * pad)
        border = cv2.copyMakeBorder(
            pixels, dy, dy, dx, dx, cv2.BORDER_CONSTANT, value=(128, 128, 128)
        )
        ok, buf = cv2.imencode(".jpg", border, [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            raise InvalidInputError(f"cannot encode {path}", field="images")
        return bytes(buf.tobytes())

    return load


_T = TypeVar("_T")


def _serialized(target: _T, lock: threading.RLock) -> _T:
    """``target`` with every method call made under ``lock`` (a proxy; attributes pass)."""

    class Serialized:
        def __getattr__(self, name: str) -> Any:
            value = getattr(target, name)
            if not callable(value):
                return value

            @functools.wraps(value)
            def locked(*args: Any, **kwargs: Any) -> Any:
                with lock:
                    return value(*args, **kwargs)

            return locked

    return cast(_T, Serialized())


# Long on purpose: builds the in-process stores under one mock_aws context and closes them in its
# finally.
def evaluate_event(args: argparse.Namespace) -> dict[str, Any]:
    """Run the evaluation on in-process stores; the report as a dict."""
    from moto import mock_aws

    from findme.adapters.dynamodb import DynamoMetadataStore
    from findme.adapters.onnx_engine import OnnxFaceEngine
    from findme.adapters.qdrant import QdrantVectorIndex
    from findme.adapters.s3 import S3ObjectStore
    from findme.local.provision import create_bucket, create_tables
    from findme.observability import logger
    from findme.services.digest import DigestDeps
    from findme.services.evaluation import plan_event, run_event

    logger.setLevel("WARNING")  # one INFO line per photo would drown the report
    if not args.images.is_dir():
        raise InvalidInputError(f"{args.images} is not a folder", field="images")
    if not args.labels.is_file():
        raise InvalidInputError(f"{args.labels} is not a file", field="labels")
    plan = plan_event(args.labels, attendees=args.attendees, guests=args.guests, seed=args.seed)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "eval")
    with mock_aws():
        settings = Settings(
            stage="test",
            aws_endpoint_url=None,
            dynamodb_endpoint_url=None,
            aws_region="us-east-1",
            qdrant_url=None,
            qdrant_path=":memory:",
            table_prefix=f"eval-{uuid.uuid4().hex[:8]}-",
            enable_emotion=False,
            enable_age_gender=False,
            ort_threads=1,
            **({"cluster_method": args.cluster_method} if args.cluster_method else {}),
        )
        create_tables(settings)
        create_bucket(settings, None)
        vectors = QdrantVectorIndex(settings)
        vectors.ensure_collection()
        # moto's in-process backends are plain dicts: calls from digest's renditions thread
        # and the workers must not interleave ("dictionary changed size during iteration").
        moto_lock = threading.RLock()
        deps = DigestDeps(
            store=_serialized(S3ObjectStore(settings), moto_lock),
            metadata=_serialized(DynamoMetadataStore(settings), moto_lock),
            vectors=vectors,
            engine=OnnxFaceEngine(settings),
            settings=settings,
        )
        try:
            report = run_event(
                plan,
                args.images,
                deps,
                load=padded_loader(args.pad),
                workers=args.workers,
                incremental_share=args.incremental_share,
                seed=args.seed,
                progress=None if args.json else lambda line: print(line, file=sys.stderr),
            )
        finally:
            vectors.close()
    out = report.as_dict()
    out["settings"]["pad"] = args.pad
    return out


def _event(args: argparse.Namespace) -> int:
    out = evaluate_event(args)
    if args.json:
        print(json.dumps(out))
        return 0
    p, r = out["precision"], out["recall"]
    print(json.dumps(out, indent=2))
    print(
        f"\n{out['attendees']} attendees, {out['photos_uploaded']} photos: precision mean "
        f"{p['mean']} (worst {p['worst']}), recall mean {r['mean']} (worst {r['worst']}); "
        f"{out['attendees_below_precision_0_9']} below precision 0.9; persons BCubed F "
        f"{out['persons_bcubed']['f']}",
        file=sys.stderr,
    )
    return 0
