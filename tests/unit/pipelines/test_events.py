"""Parsing S3 notifications and Distributed Map batches (pure functions)."""

from __future__ import annotations

import json

import pytest
from findme.errors import InvalidInputError
from findme.services.events import (
    ZipTask,
    parse_distributed_map_batch,
    parse_event,
    parse_s3_notification,
)


def s3_event(*records: tuple[str, str], bucket: str = "findme-media") -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": name,
                    "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1234}},
                }
                for name, key in records
            ]
        }
    )


def test_object_created_keys_are_url_decoded_with_sizes() -> None:
    # Given an S3 notification whose key is URL-encoded ("+" for a space, %2B for "+")
    body = s3_event(("ObjectCreated:Put", "originals/g1/my+photo%2B1.jpg"))
    # When it is parsed
    objects = parse_s3_notification(body)
    # Then the key is decoded and the size kept
    assert objects == [("originals/g1/my photo+1.jpg", 1234)]


def test_test_event_and_other_event_types_yield_nothing() -> None:
    # Given the s3:TestEvent S3 sends on configuration, and a removal record
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})
    removed = s3_event(("ObjectRemoved:Delete", "originals/g1/a.jpg"))
    # When parsed, Then nothing is to be digested
    assert parse_s3_notification(test_event) == []
    assert parse_s3_notification(removed) == []


def test_other_buckets_are_ignored_and_sns_envelopes_unwrapped() -> None:
    # Given an S3 event for two buckets, wrapped in an SNS notification
    inner = s3_event(("ObjectCreated:Post", "originals/g1/a.jpg"), bucket="other")
    envelope = json.dumps({"Type": "Notification", "Message": inner})
    # When parsed for our bucket, Then the other bucket's record is dropped
    assert parse_s3_notification(envelope, bucket="findme-media") == []
    assert parse_s3_notification(envelope, bucket="other") == [("originals/g1/a.jpg", 1234)]


@pytest.mark.parametrize("body", ["not json", "[]", json.dumps({"Records": [{"eventName": 1}]})])
def test_malformed_bodies_raise_invalid_input(body: str) -> None:
    # Given a poison message, When parsed, Then it is an input error (never a KeyError)
    with pytest.raises(InvalidInputError):
        parse_s3_notification(body)


def test_distributed_map_batch_reads_items_and_batch_input() -> None:
    # Given an ItemBatcher invocation over an S3 listing
    event = {
        "Items": [{"Key": "originals/g/a.jpg", "Size": 10, "ETag": "x"}, {"key": "originals/g/b"}],
        "BatchInput": {"job_id": "j1", "force": True},
    }
    # When parsed
    batch = parse_distributed_map_batch(event)
    # Then keys, sizes and the shared input come through
    assert batch.items == [("originals/g/a.jpg", 10), ("originals/g/b", None)]
    assert (batch.job_id, batch.force) == ("j1", True)


def test_distributed_map_item_without_key_is_rejected() -> None:
    with pytest.raises(InvalidInputError):
        parse_distributed_map_batch({"Items": [{"Size": 3}]})


def test_malformed_events_name_the_field_that_is_wrong() -> None:
    # Given a record without its object key, Then the error names where it is missing
    record = {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {}}}
    with pytest.raises(InvalidInputError, match=r"Records\.0\.s3\.object\.key"):
        parse_s3_notification({"Records": [record]})
    # And an SNS envelope without its message is refused, not read as an empty event
    with pytest.raises(InvalidInputError, match="Message"):
        parse_s3_notification({"Type": "Notification"})
    # And a map batch item that is neither a key nor an object with one is refused
    with pytest.raises(InvalidInputError, match="Distributed Map batch"):
        parse_distributed_map_batch({"Items": [{"Size": 3}]})
    # And a zip task needs its job id (a non-empty string)
    assert parse_event(ZipTask, {"job_id": "j1", "extra": 1}, "zip task").job_id == "j1"
    for bad in ({}, {"job_id": ""}, {"job_id": 7}):
        with pytest.raises(InvalidInputError, match="bad zip task: job_id"):
            parse_event(ZipTask, bad, "zip task")
