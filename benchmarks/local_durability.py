"""What durability costs the local stack's moto server: S3 PUT latency and restore time.

Starts ``findme.local.moto_server`` twice on a free port, in memory and with ``--state-dir``
(every state-changing request answered only once its snapshot is fsync'd), PUTs ``--objects``
objects of ``--bytes`` bytes each into a bucket with an S3 -> SQS notification (as the stack
has), then restarts the durable server and times the restore (until it answers) and a full
listing. Prints JSON.

Run: ``.venv/bin/python benchmarks/local_durability.py [--objects 300] [--bytes 1000000]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from findme.local.stack import free_port

BUCKET = "bench-media"


def _start(port: int, state_dir: Path | None) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "findme.local.moto_server", "--port", str(port)]
    if state_dir is not None:
        cmd += ["--state-dir", str(state_dir)]
    env = {**os.environ, "MOTO_PORT": str(port), "AWS_SECRET_ACCESS_KEY": "test"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("moto server did not start")


def _clients(port: int) -> tuple[Any, Any]:
    kw: dict[str, Any] = {
        "region_name": "us-east-1",
        "endpoint_url": f"http://127.0.0.1:{port}",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
    }
    return boto3.client("s3", **kw), boto3.client("sqs", **kw)


def _run(objects: int, size: int, state_dir: Path | None) -> dict[str, Any]:
    port = free_port()
    proc = _start(port, state_dir)
    try:
        s3, sqs = _clients(port)
        s3.create_bucket(Bucket=BUCKET)
        queue = sqs.create_queue(QueueName="digest")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {"QueueArn": arn["Attributes"]["QueueArn"], "Events": ["s3:ObjectCreated:*"]}
                ]
            },
        )
        body = os.urandom(size)
        latencies = []
        started = time.perf_counter()
        for i in range(objects):
            t0 = time.perf_counter()
            s3.put_object(Bucket=BUCKET, Key=f"originals/g/{i}.jpg", Body=body)
            latencies.append((time.perf_counter() - t0) * 1000)
        total_s = time.perf_counter() - started
    finally:
        proc.kill()
        proc.wait()
    latencies.sort()
    result: dict[str, Any] = {
        "put_ms_p50": round(statistics.median(latencies), 1),
        "put_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "puts_per_s": round(objects / total_s, 1),
    }
    if state_dir is not None:
        t0 = time.perf_counter()
        proc = _start(port, state_dir)
        result["restart_until_answering_s"] = round(time.perf_counter() - t0, 2)
        try:
            s3, sqs = _clients(port)
            listed = sum(
                page.get("KeyCount", 0)
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            )
            queue = sqs.get_queue_url(QueueName="digest")["QueueUrl"]
            attrs = sqs.get_queue_attributes(
                QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            result["objects_after_kill"] = listed
            # every ObjectCreated notification (plus S3's one s3:TestEvent) is still queued
            result["messages_after_kill"] = int(attrs["ApproximateNumberOfMessages"])
        finally:
            proc.kill()
            proc.wait()
        result["disk_bytes"] = sum(p.stat().st_size for p in state_dir.rglob("*") if p.is_file())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=300)
    parser.add_argument("--bytes", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = {
            "objects": args.objects,
            "object_bytes": args.bytes,
            "in_memory": _run(args.objects, args.bytes, None),
            "durable": _run(args.objects, args.bytes, Path(tmp) / "state"),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
