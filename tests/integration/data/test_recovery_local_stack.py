"""findme.local.recovery on the real local stack: what a restarted run hands on.

A fresh queue per test (the stack's digest queue belongs to the API tier's poller).
"""

from __future__ import annotations

import uuid

import boto3
from findme.adapters.dynamodb import DynamoMetadataStore
from findme.adapters.sqs import SqsQueue
from findme.config import Settings
from findme.domain.records import Group, Image, ImageStatus, Job, JobStatus, JobType
from findme.local.recovery import INTERRUPTED, recover, release_in_flight
from findme.services.events import parse_s3_notification


def _queue(settings: Settings) -> SqsQueue:
    sqs = boto3.client(
        "sqs", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
    )
    url = sqs.create_queue(QueueName=f"recovery-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    return SqsQueue(settings, url)


def _image(group_id: str, status: ImageStatus) -> Image:
    image_id = str(uuid.uuid4())
    return Image(
        image_id=image_id,
        group_id=group_id,
        s3_key=f"originals/{group_id}/{image_id}.jpg",
        status=status,
        file_name="a photo.jpg",
        size_bytes=1234,
    )


def test_unfinished_images_are_sent_again_and_interrupted_jobs_fail(
    stack_settings: Settings, store: DynamoMetadataStore, fresh_group_id: str
) -> None:
    # Given a group whose run died with photos and jobs under way
    store.put_group(Group(group_id=fresh_group_id, name="Gala", owner_id="u-1"))
    images = {s: _image(fresh_group_id, s) for s in ImageStatus}
    for image in images.values():
        store.put_image(image)
    running = Job(str(uuid.uuid4()), JobType.DOWNLOAD, JobStatus.RUNNING, fresh_group_id, "u-1")
    pending = Job(str(uuid.uuid4()), JobType.CLUSTER, JobStatus.PENDING, fresh_group_id, "u-1")
    ready = Job(str(uuid.uuid4()), JobType.DOWNLOAD, JobStatus.READY, fresh_group_id, "u-1")
    for job in (running, pending, ready):
        store.put_job(job)
    queue = _queue(stack_settings)

    report = recover(stack_settings, store, queue)

    # Then uploaded and processing images get their S3 notification again, nothing else does
    unfinished = {images[ImageStatus.UPLOADED].image_id, images[ImageStatus.PROCESSING].image_id}
    assert unfinished <= set(report.redigested_image_ids)
    ours = {i.image_id for i in images.values()}
    assert set(report.redigested_image_ids) & ours == unfinished
    sent = []
    for _ in range(5):
        sent += [parse_s3_notification(m.body) for m in queue.receive(max_messages=10)]
    keys = {key for records in sent for key, _ in records if fresh_group_id in key}
    assert keys == {images[s].s3_key for s in (ImageStatus.UPLOADED, ImageStatus.PROCESSING)}
    assert all(size == 1234 for records in sent for key, size in records if fresh_group_id in key)
    # and the jobs that can never finish now say why, the finished one is untouched
    assert {running.job_id, pending.job_id} <= set(report.interrupted_job_ids)
    for job in (running, pending):
        after = store.get_job(job.job_id)
        assert (after.status, after.error) == (JobStatus.FAILED, INTERRUPTED)
    assert store.get_job(ready.job_id).status is JobStatus.READY
    # and a second recovery fails no job twice
    assert not {running.job_id, pending.job_id} & set(
        recover(stack_settings, store, queue).interrupted_job_ids
    )


def test_in_flight_messages_are_released_at_once(stack_settings: Settings) -> None:
    # Given a message a (now dead) worker received with a long visibility timeout
    queue = _queue(stack_settings)
    queue.send("work")
    sqs = boto3.client(
        "sqs", region_name=stack_settings.aws_region, endpoint_url=stack_settings.aws_endpoint_url
    )
    taken = sqs.receive_message(QueueUrl=queue.url, VisibilityTimeout=300)
    assert len(taken["Messages"]) == 1
    assert queue.receive(max_messages=10, wait_s=0) == []
    # When the local moto server is asked to release in-flight messages
    assert stack_settings.aws_endpoint_url is not None
    assert release_in_flight(stack_settings.aws_endpoint_url) >= 1
    # Then the message is there again now, not in 5 minutes
    assert [m.body for m in queue.receive(max_messages=10, wait_s=0)] == ["work"]
