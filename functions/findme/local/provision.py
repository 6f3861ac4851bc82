"""Create the local stack's AWS resources (or moto's in-process ones in unit tests).

On AWS the CDK app in ``infra/`` declares these; locally this module builds the same shape
from the same sources: the tables from :mod:`findme.tables`, the bucket with its 7-day
lifecycle rule on ``archives/`` and the abort-incomplete-multipart rule, the digest queue
with its dead-letter queue and the ``ObjectCreated`` notification on ``originals/``, and the
JWT secret, and the bucket's CORS rules for browser uploads (presigned POST) and reads
(presigned GET) from the web app. Every function is idempotent (safe to run on a stack that
already has them).
"""

from __future__ import annotations

import json
import secrets as _secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from findme import tables
from findme.config import Settings

#: Credentials the local stack's clients sign with (moto and DynamoDB Local accept any).
LOCAL_ACCESS_KEY_ID = "test"
LOCAL_SECRET_ACCESS_KEY = "test"  # noqa: S105 - a fixed, public local-only value
#: Receives before a digest message moves to the dead-letter queue.
MAX_RECEIVE_COUNT = 5
#: Days after which an incomplete multipart upload is aborted by the bucket lifecycle.
ABORT_MULTIPART_DAYS = 1
#: Origins of the web app on this machine (``findme local run`` on any port, Vite's server).
LOOPBACK_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*")
#: Seconds a browser may cache a CORS preflight answer.
CORS_MAX_AGE_S = 3000


def bucket_cors_rules(origins: list[str]) -> list[dict[str, Any]]:
    """The media bucket's CORS: presigned POST uploads and GETs from the web app's origins.

    Args:
        origins: allowed origins (``scheme://host[:port]``; S3 allows one ``*`` in each).

    Returns:
        ``CORSRules`` for ``PutBucketCors`` (the CDK app declares the same on AWS).
    """
    return [
        {
            "ID": "web-app",
            "AllowedOrigins": origins,
            "AllowedMethods": ["GET", "HEAD", "POST"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag", "Location"],
            "MaxAgeSeconds": CORS_MAX_AGE_S,
        }
    ]


#: The digest visibility timeout, seconds (above the digest Lambda's 5-minute timeout).
DIGEST_VISIBILITY_TIMEOUT_S = 360


@dataclass(frozen=True, slots=True)
class Provisioned:
    """What :func:`provision` made: queue URLs and ARNs, the JWT secret id."""

    digest_queue_url: str
    digest_queue_arn: str
    digest_dlq_url: str
    jwt_secret_id: str


def _client(service: str, settings: Settings, endpoint: str | None) -> Any:
    return boto3.session.Session().client(
        service,
        region_name=settings.aws_region,
        endpoint_url=endpoint,
        aws_access_key_id=LOCAL_ACCESS_KEY_ID,
        aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
    )


def create_tables(settings: Settings) -> list[str]:
    """Create every table of :data:`findme.tables.TABLES` (and its TTL) if missing, and add
    the global secondary indexes a kept table lacks (a local stack's ``-dbPath`` state from
    an older release; ``UpdateTable`` with ``GlobalSecondaryIndexUpdates``, one at a time as
    DynamoDB requires).

    Tables are created concurrently (a few threads: each CreateTable is one round trip).

    Returns:
        The table names.
    """
    client = _client("dynamodb", settings, settings.dynamodb_endpoint_url)
    existing: set[str] = set()
    for page in client.get_paginator("list_tables").paginate():
        existing.update(page["TableNames"])

    def create(spec: tables.TableSpec) -> str:
        name = settings.table_name(spec.name)
        if name in existing:
            _add_missing_indexes(client, spec, name)
            return name
        client.create_table(**tables.create_table_kwargs(spec, name))
        client.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
        if spec.ttl_attribute:
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )
        return name

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(create, tables.TABLES))


def _add_missing_indexes(client: Any, spec: tables.TableSpec, name: str) -> None:
    wanted = tables.create_table_kwargs(spec, name)
    have = {
        index["IndexName"]
        for index in client.describe_table(TableName=name)["Table"].get(
            "GlobalSecondaryIndexes", []
        )
    }
    for index in wanted.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] in have:
            continue
        client.update_table(
            TableName=name,
            AttributeDefinitions=wanted["AttributeDefinitions"],
            GlobalSecondaryIndexUpdates=[{"Create": index}],
        )
        for _ in range(120):
            table = client.describe_table(TableName=name)["Table"]
            statuses = [i.get("IndexStatus") for i in table.get("GlobalSecondaryIndexes", [])]
            if all(status == "ACTIVE" for status in statuses):
                break
            time.sleep(0.5)


def create_queues(settings: Settings, name: str = "findme-digest") -> tuple[str, str, str]:
    """The digest queue with a dead-letter queue -> ``(queue_url, queue_arn, dlq_url)``."""
    sqs = _client("sqs", settings, settings.aws_endpoint_url)
    dlq_url = sqs.create_queue(
        QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": str(14 * 24 * 3600)}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(DIGEST_VISIBILITY_TIMEOUT_S),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{settings.bucket}"}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    return queue_url, queue_arn, dlq_url


def _bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise
    return True


def create_bucket(settings: Settings, digest_queue_arn: str | None) -> None:
    """The media bucket: lifecycle rules, CORS for the web app (loopback origins and
    ``Settings.cors_origins``) and the ``originals/`` -> SQS notification."""
    s3 = _client("s3", settings, settings.aws_endpoint_url)
    # moto answers CreateBucket on an existing us-east-1 bucket by emptying it (AWS keeps it):
    # never create a bucket that is there, or a restored local stack loses its photos.
    if not _bucket_exists(s3, settings.bucket):
        try:
            if settings.aws_region == "us-east-1":
                s3.create_bucket(Bucket=settings.bucket)
            else:
                s3.create_bucket(
                    Bucket=settings.bucket,
                    CreateBucketConfiguration={"LocationConstraint": settings.aws_region},
                )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
    s3.put_bucket_lifecycle_configuration(
        Bucket=settings.bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire-archives",
                    "Filter": {"Prefix": settings.archives_prefix},
                    "Status": "Enabled",
                    "Expiration": {"Days": settings.archive_retention_days},
                },
                {
                    "ID": "abort-incomplete-multipart",
                    "Filter": {"Prefix": ""},
                    "Status": "Enabled",
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_MULTIPART_DAYS},
                },
            ]
        },
    )
    s3.put_bucket_cors(
        Bucket=settings.bucket,
        CORSConfiguration={
            "CORSRules": bucket_cors_rules([*LOOPBACK_ORIGINS, *settings.cors_origins])
        },
    )
    if digest_queue_arn:
        s3.put_bucket_notification_configuration(
            Bucket=settings.bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "Id": "originals-to-digest",
                        "QueueArn": digest_queue_arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {
                            "Key": {
                                "FilterRules": [
                                    {"Name": "prefix", "Value": settings.originals_prefix}
                                ]
                            }
                        },
                    }
                ]
            },
        )


def put_secret(settings: Settings, secret_id: str, value: str | None = None) -> str:
    """Create ``secret_id`` (random 48-byte URL-safe value unless given) if missing.

    Returns:
        The secret's current value.
    """
    sm = _client("secretsmanager", settings, settings.aws_endpoint_url)
    try:
        current: str = sm.get_secret_value(SecretId=secret_id)["SecretString"]
        return current
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    value = value or _secrets.token_urlsafe(48)
    sm.create_secret(Name=secret_id, SecretString=value)
    return value


def provision_objects(settings: Settings) -> Provisioned:
    """The moto-side resources: queues, bucket (lifecycle, notification), JWT secret."""
    queue_url, queue_arn, dlq_url = create_queues(settings)
    create_bucket(settings, queue_arn)
    put_secret(settings, settings.jwt_secret_id)
    return Provisioned(queue_url, queue_arn, dlq_url, settings.jwt_secret_id)


def provision(settings: Settings) -> Provisioned:
    """Everything the local stack needs, idempotently: queues, bucket, JWT secret, tables."""
    provisioned = provision_objects(settings)
    create_tables(settings)
    return provisioned
