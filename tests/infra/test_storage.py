"""Media bucket, upload queue, DLQ and alarm in the synthesised template."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from infra_cfn import Synth, render

pytestmark = pytest.mark.infra


def _media_bucket(template: Template) -> Any:
    buckets = template.find_resources(
        "AWS::S3::Bucket", {"Properties": {"NotificationConfiguration": Match.any_value()}}
    )
    assert len(buckets) == 1, "exactly one bucket (the media bucket) receives uploads"
    return next(iter(buckets.values()))


def test_archives_expire_after_seven_days_and_multipart_uploads_are_aborted(dev: Template) -> None:
    """Given the dev stack, when reading the media bucket's lifecycle rules, then objects under
    archives/ expire after 7 days and incomplete multipart uploads are aborted after 1 day."""
    rules = _media_bucket(dev)["Properties"]["LifecycleConfiguration"]["Rules"]
    archives = [r for r in rules if r.get("Prefix") == "archives/"]
    assert archives == [
        {"Id": "expire-archives", "Prefix": "archives/", "ExpirationInDays": 7, "Status": "Enabled"}
    ]
    aborts = [r for r in rules if "AbortIncompleteMultipartUpload" in r]
    assert aborts
    assert aborts[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert "Prefix" not in aborts[0], "the abort rule covers the whole bucket"


def test_unused_selfie_uploads_expire_and_reference_selfies_do_not(dev: Template) -> None:
    """Given the media bucket, then presigned selfie uploads nobody used (an abandoned
    sign-up) expire after a day, and no rule touches the reference selfies beside them."""
    rules = _media_bucket(dev)["Properties"]["LifecycleConfiguration"]["Rules"]
    selfies = [r for r in rules if str(r.get("Prefix", "")).startswith("selfies/")]
    assert selfies == [
        {
            "Id": "expire-unused-selfie-uploads",
            "Prefix": "selfies/uploads/",
            "ExpirationInDays": 1,
            "Status": "Enabled",
        }
    ]


def test_job_work_files_expire_with_the_job_items(dev: Template) -> None:
    """Given the media bucket, then what a failed job leaves under jobs/ (a reprocess or
    delete_group id list, batch summaries) expires when its job item does (JOB_TTL)."""
    from findme.services.processing import JOB_TTL

    rules = _media_bucket(dev)["Properties"]["LifecycleConfiguration"]["Rules"]
    jobs = [r for r in rules if r.get("Prefix") == "jobs/"]
    assert jobs == [
        {
            "Id": "expire-job-files",
            "Prefix": "jobs/",
            "ExpirationInDays": JOB_TTL.days,
            "Status": "Enabled",
        }
    ]


def test_media_bucket_is_private_encrypted_unversioned_with_cors_for_presigned_post(
    dev: Template,
) -> None:
    """Given the media bucket, then public access is blocked, SSE is on, versioning is off
    (erasure must be final), access logs go to the log bucket and CORS allows POST."""
    props = _media_bucket(dev)["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert "VersioningConfiguration" not in props
    assert "DestinationBucketName" in props["LoggingConfiguration"]
    (cors,) = props["CorsConfiguration"]["CorsRules"]
    assert "POST" in cors["AllowedMethods"]


def test_bucket_policies_deny_requests_without_tls(dev: Template) -> None:
    """Given every bucket policy, then each denies any request with aws:SecureTransport false
    on the bucket and its objects."""
    policies = dev.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 3  # media, access logs, web app
    for policy in policies.values():
        denies = [
            s
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
            if s["Effect"] == "Deny"
            and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        ]
        assert denies, "a TLS-only deny statement"
        resources = {render(r) for r in denies[0]["Resource"]}
        assert any(r.endswith("/*") for r in resources)
        assert len(resources) == 2


def test_uploads_to_originals_notify_the_digest_queue(synth: Synth, dev: Template) -> None:
    """Given the media bucket, then ObjectCreated under originals/ goes to the digest queue, and
    the bucket is created after the queue policy that lets S3 (this bucket only) send."""
    bucket = next(
        v
        for v in synth.resources("dev", "AWS::S3::Bucket").values()
        if "NotificationConfiguration" in v["Properties"]
    )
    (queue_config,) = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert queue_config["Event"] == "s3:ObjectCreated:*"
    assert queue_config["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "originals/"}]
    queue_id = queue_config["Queue"]["Fn::GetAtt"][0]
    assert synth.resources("dev", "AWS::SQS::Queue")[queue_id]["Properties"]["QueueName"] == (
        "findme-dev-digest"
    )
    (policy_id, policy), *_ = [
        (k, v)
        for k, v in synth.resources("dev", "AWS::SQS::QueuePolicy").items()
        if {"Ref": queue_id} in v["Properties"]["Queues"]
    ]
    assert policy_id in bucket["DependsOn"]
    (statement,) = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "AllowMediaBucketNotifications"
    ]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    bucket_name = render(bucket["Properties"]["BucketName"])
    assert bucket_name == "findme-dev-media-<AWS::AccountId>-<AWS::Region>"
    source_arn = render(statement["Condition"]["ArnEquals"]["aws:SourceArn"])
    assert source_arn == f"arn:<AWS::Partition>:s3:::{bucket_name}"


def test_digest_queue_redrives_to_a_dead_letter_queue(synth: Synth) -> None:
    """Given the digest queue, then failed messages move to the DLQ after 5 receives and the
    visibility timeout is at least 6x the digest function timeout (AWS guidance)."""
    queues = synth.resources("dev", "AWS::SQS::Queue")
    by_name = {q["Properties"]["QueueName"]: (k, q["Properties"]) for k, q in queues.items()}
    dlq_id, _ = by_name["findme-dev-digest-dlq"]
    _, queue = by_name["findme-dev-digest"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 5,
    }
    digest = next(
        f["Properties"]
        for f in synth.resources("dev", "AWS::Lambda::Function").values()
        if f["Properties"].get("FunctionName") == "findme-dev-digest"
    )
    assert queue["VisibilityTimeout"] >= 6 * digest["Timeout"]
    for props in (queue, by_name["findme-dev-digest-dlq"][1]):
        assert props["SqsManagedSseEnabled"] is True


def test_a_message_in_the_dead_letter_queue_raises_an_alarm(synth: Synth, dev: Template) -> None:
    """Given the DLQ alarm, then it fires on >= 1 visible message and notifies the alarm topic."""
    dlq_id = next(
        k
        for k, q in synth.resources("dev", "AWS::SQS::Queue").items()
        if q["Properties"]["QueueName"] == "findme-dev-digest-dlq"
    )
    dev.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Namespace": "AWS/SQS",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [{"Ref": Match.string_like_regexp("StorageAlarms")}],
        },
    )


def test_prod_keeps_the_media_bucket_and_queues_dev_does_not(prod: Template, dev: Template) -> None:
    """Given both stages, then prod retains the media bucket and the queues on stack deletion,
    and dev deletes them."""
    for template, policy in ((prod, "Retain"), (dev, "Delete")):
        assert _media_bucket(template)["DeletionPolicy"] == policy
        for queue in template.find_resources("AWS::SQS::Queue").values():
            assert queue["DeletionPolicy"] == policy
