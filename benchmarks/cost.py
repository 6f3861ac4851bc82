"""Dollars per 1,000 photos on Lambda arm64, from measured time and counted requests.

Runs the real digest path (``benchmarks/digest.py``'s ``run_config``: S3 read, decode,
detect, align, embed, quality, attributes, renditions, DynamoDB + Qdrant writes, placing
new faces) on the faces-dev photos in the digest Lambda's layout (``--layout``, default
``1x2``: 2 photos at once with one ONNX Runtime thread each, as the CDK stack sets it),
against an in-memory local stack, and counts every AWS request the digest makes (botocore
calls, BatchWriteItem items counted one by one). Then prices 1,000 photos:

- Lambda: measured ms per photo (wall time of the run / photos: what a function running the
  layout is billed per photo) x the digest function's memory (the synthesised CDK template
  if ``infra/cdk.out`` exists, else ``--memory-mb``) x the arm64 GB-second price, plus one
  request per SQS batch of 10;
- DynamoDB on-demand: one write unit per item written, one read unit per item read (an upper
  bound: reads of items under 4 KB cost half a unit when eventually consistent);
- S3 PUT/GET and SQS requests at list price;
- Rekognition at list price: DetectFaces + IndexFaces + SearchFacesByImage per photo.

And one 5,000-photo event's vectors against Qdrant Cloud's free cluster.

Prices: us-east-1 list prices (AWS pricing pages for Lambda, DynamoDB on-demand after the
November 2024 reduction, S3 Standard, SQS standard queues, Rekognition Image tier 1; Qdrant's
pricing page for the free cluster). The machine is not a Graviton core: the Lambda figure
assumes one arm64 vCPU-second per measured second (the load average is printed with it).

    .venv/bin/python benchmarks/cost.py [--limit 64] [--memory-mb 3538] [--layout 1x2]
"""

from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import argparse
import importlib.util
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import botocore.client

REPO_ROOT = Path(__file__).resolve().parents[1]

#: USD per GB-second, Lambda arm64, first 7.5 billion GB-s a month (us-east-1).
LAMBDA_ARM_GB_S = 0.0000133334
#: USD per Lambda request.
LAMBDA_REQUEST = 0.20 / 1_000_000
#: USD per DynamoDB on-demand write / read request unit.
DDB_WRU = 0.625 / 1_000_000
DDB_RRU = 0.125 / 1_000_000
#: USD per S3 Standard PUT (POST, COPY, LIST) / GET request.
S3_PUT = 0.005 / 1000
S3_GET = 0.0004 / 1000
#: USD per SQS standard request (64 KB chunk).
SQS_REQUEST = 0.40 / 1_000_000
#: USD per image, Rekognition Image, first million images a month: DetectFaces (group 2),
#: IndexFaces and SearchFacesByImage (group 1).
REKOGNITION_PER_IMAGE = {"DetectFaces": 0.001, "IndexFaces": 0.001, "SearchFacesByImage": 0.001}
#: Qdrant Cloud's free cluster (no card): 0.5 vCPU, 1 GB RAM, 4 GB disk.
QDRANT_FREE_RAM_BYTES = 1_000_000_000
#: SQS messages the digest Lambda receives per invocation (event source batch size).
SQS_BATCH = 10

_WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem"}
_READ_OPS = {"GetItem", "Query", "Scan"}


class CallCounter:
    """Counts botocore API calls by service and operation while installed."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.ddb_items_written = 0
        self.ddb_items_read = 0
        self._original = botocore.client.BaseClient._make_api_call

    def __enter__(self) -> CallCounter:
        counter = self
        original = self._original

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            counter.calls[(service, operation)] += 1
            response = original(client, operation, params)
            if service == "dynamodb":
                counter._count_dynamodb(operation, params, response)
            return response

        botocore.client.BaseClient._make_api_call = counted  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        botocore.client.BaseClient._make_api_call = self._original  # type: ignore[method-assign]

    def _count_dynamodb(self, operation: str, params: dict[str, Any], response: Any) -> None:
        if operation in _WRITE_OPS:
            self.ddb_items_written += 1
        elif operation == "BatchWriteItem":
            self.ddb_items_written += sum(len(v) for v in params.get("RequestItems", {}).values())
        elif operation in _READ_OPS:
            self.ddb_items_read += max(1, len(response.get("Items", [])) if response else 1)
        elif operation == "BatchGetItem":
            self.ddb_items_read += sum(len(v) for v in response.get("Responses", {}).values())


def _digest_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "digest_bench", REPO_ROOT / "benchmarks/digest.py"
    )
    if spec is None or spec.loader is None:
        raise ImportError("benchmarks/digest.py not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _template_memory_mb() -> int | None:
    """The digest function's MemorySize in a synthesised template (``make synth``), if any."""
    for template in sorted((REPO_ROOT / "infra/cdk.out").glob("*.template.json")):
        resources = json.loads(template.read_text()).get("Resources", {})
        for name, resource in resources.items():
            props = resource.get("Properties", {})
            is_digest = resource.get("Type") == "AWS::Lambda::Function" and "igest" in name
            if is_digest and "MemorySize" in props:
                return int(props["MemorySize"])
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=0, help="only the first N photos")
    parser.add_argument("--memory-mb", type=int, default=3538, help="if no synthesised template")
    parser.add_argument("--layout", default="1x2", help="ORT_THREADSxDIGEST_WORKERS")
    parser.add_argument("--event-photos", type=int, default=5000)
    args = parser.parse_args()

    bench = _digest_module()
    from findme.adapters.qdrant import QdrantVectorIndex
    from findme.local.stack import start_stack

    photos = sorted((bench.FACES_DEV / "images").glob("*.jpg"))
    if args.limit:
        photos = photos[: args.limit]
    with tempfile.TemporaryDirectory(prefix="findme-costbench-") as tmp:
        stack = start_stack(Path(tmp), qdrant_path=":memory:", persist=False)
        try:
            os.environ.update(stack.env)
            vectors = QdrantVectorIndex(stack.settings(qdrant_path=":memory:"))
            vectors.ensure_collection()
            with CallCounter() as counter:
                threads, workers = (int(x) for x in args.layout.lower().split("x"))
                run = bench.run_config(stack, photos, threads, workers, vectors, "cost")
        finally:
            stack.stop()
    n = len(photos) + 1  # run_config digests one warm-up photo first
    per_photo = {f"{s}:{op}": round(c / n, 2) for (s, op), c in sorted(counter.calls.items())}
    s3_puts = sum(c for (s, op), c in counter.calls.items() if s == "s3" and op.startswith("Put"))
    s3_gets = sum(c for (s, op), c in counter.calls.items() if s == "s3" and op == "GetObject")
    memory_mb = _template_memory_mb() or args.memory_mb
    thousand = 1000
    lambda_usd = thousand * run["ms_per_image"] / 1000 * memory_mb / 1024 * LAMBDA_ARM_GB_S
    lambda_usd += thousand / SQS_BATCH * LAMBDA_REQUEST
    ddb_usd = thousand * (
        counter.ddb_items_written / n * DDB_WRU + counter.ddb_items_read / n * DDB_RRU
    )
    s3_usd = thousand * (s3_puts / n * S3_PUT + (s3_gets / n + 1) * S3_GET)  # +1: the upload GET
    sqs_usd = thousand * 3 / SQS_BATCH * SQS_REQUEST  # send, receive, delete (batched by 10)
    findme_usd = lambda_usd + ddb_usd + s3_usd + sqs_usd
    rekognition_usd = thousand * sum(REKOGNITION_PER_IMAGE.values())
    faces_per_photo = run["faces"] / max(run["images"], 1)
    event_vectors = args.event_photos * faces_per_photo
    # 128 float32 + HNSW links (~2 x 16 ids) + payload (~200 B) per vector
    event_bytes = event_vectors * (128 * 4 + 32 * 4 + 200)
    report = {
        "benchmark": "cost",
        "photos_measured": run["images"],
        "layout": args.layout,
        "ms_per_photo": run["ms_per_image"],
        "cpu_ms_per_photo": run["cpu_ms_per_image"],
        "faces_per_photo": round(faces_per_photo, 2),
        "digest_memory_mb": memory_mb,
        "load_avg_1m": run["load_avg_1m"],
        "aws_calls_per_photo": per_photo,
        "dynamodb_items_written_per_photo": round(counter.ddb_items_written / n, 2),
        "dynamodb_items_read_per_photo": round(counter.ddb_items_read / n, 2),
        "usd_per_1000_photos": {
            "lambda_arm64": round(lambda_usd, 4),
            "dynamodb": round(ddb_usd, 4),
            "s3": round(s3_usd, 4),
            "sqs": round(sqs_usd, 5),
            "findme_total": round(findme_usd, 4),
            "rekognition_detect_index_search": round(rekognition_usd, 2),
        },
        "rekognition_over_findme": round(rekognition_usd / findme_usd, 1),
        "event": {
            "photos": args.event_photos,
            "vectors": round(event_vectors),
            "qdrant_bytes": round(event_bytes),
            "fits_qdrant_free_cluster": event_bytes < QDRANT_FREE_RAM_BYTES,
            "findme_usd": round(findme_usd * args.event_photos / thousand, 3),
            "rekognition_usd": round(rekognition_usd * args.event_photos / thousand, 2),
        },
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
