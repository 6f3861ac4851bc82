"""The media bucket, its access-log bucket, and the upload queue (SQS + DLQ + alarm).

Uploads to ``originals/`` notify the digest queue directly through the bucket's own
``NotificationConfiguration`` (no CDK custom-resource Lambda): the bucket has a name built
from the account and region, so the queue policy can name the bucket without a reference
cycle, and the bucket is created after the queue policy that S3 validates.
"""

from __future__ import annotations

from aws_cdk import (
    Aws,
    Duration,
    aws_cloudwatch,
    aws_cloudwatch_actions,
    aws_iam,
    aws_s3,
    aws_sns,
    aws_sns_subscriptions,
    aws_sqs,
)
from constructs import Construct
from findme.config import Settings
from findme.domain.keys import KeyScheme
from findme.services.processing import JOB_TTL
from findme.services.selfie_uploads import UPLOAD_RETENTION_DAYS

from findme_infra.stage import StageConfig

#: Key prefixes (one source: the Settings defaults the functions use).
ORIGINALS = str(Settings.model_fields["originals_prefix"].default)
FACES = str(Settings.model_fields["faces_prefix"].default)
ARCHIVES = str(Settings.model_fields["archives_prefix"].default)
SELFIES = str(Settings.model_fields["selfies_prefix"].default)
THUMBNAILS = str(Settings.model_fields["thumbnails_prefix"].default)
PREVIEWS = str(Settings.model_fields["previews_prefix"].default)
JOBS = str(Settings.model_fields["jobs_prefix"].default)
#: Presigned selfie uploads not used yet (``selfies/uploads/``; reference selfies are not).
SELFIE_UPLOADS = KeyScheme(selfies_prefix=SELFIES).selfie_uploads
#: Days a ZIP archive is kept (the lifecycle rule and the signed URL expiry agree).
ARCHIVE_RETENTION_DAYS = int(Settings.model_fields["archive_retention_days"].default)
#: Deliveries before a notification is moved to the DLQ (a poison photo fails fast).
MAX_RECEIVE_COUNT = 5


def alarm_arn_pattern(config: StageConfig) -> str:
    """ARN pattern of this stage's CloudWatch alarms (every alarm is named ``findme-<stage>-*``)."""
    return f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:{config.prefix}*"


class Storage(Construct):
    """Media bucket (``originals/``, ``faces/``, ``selfies/``, ``archives/``, ``jobs/``) and
    upload queue.

    Attributes:
        bucket: the media bucket (private, SSE-S3, TLS only, unversioned).
        queue: ObjectCreated notifications for ``originals/``; consumed by digest.
        dead_letter_queue: notifications that failed ``MAX_RECEIVE_COUNT`` times.
        alarm_topic: SNS topic the alarms notify.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, digest_timeout_s: int
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = aws_s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=aws_s3.BlockPublicAccess.BLOCK_ALL,
            # S3 server access logging delivers only to SSE-S3 buckets.
            encryption=aws_s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=aws_s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                aws_s3.LifecycleRule(
                    id="expire-access-logs", expiration=Duration.days(config.access_log_days)
                )
            ],
            removal_policy=config.removal_policy,
        )
        self.dead_letter_queue = aws_sqs.Queue(
            self,
            "DigestDeadLetterQueue",
            queue_name=f"{config.prefix}digest-dlq",
            encryption=aws_sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=config.removal_policy,
        )
        self.queue = aws_sqs.Queue(
            self,
            "DigestQueue",
            queue_name=f"{config.prefix}digest",
            encryption=aws_sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # AWS: visibility timeout >= 6x the function timeout for SQS event sources.
            visibility_timeout=Duration.seconds(6 * digest_timeout_s),
            retention_period=Duration.days(4),
            dead_letter_queue=aws_sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=MAX_RECEIVE_COUNT
            ),
            removal_policy=config.removal_policy,
        )
        bucket_name = f"{config.prefix}media-{Aws.ACCOUNT_ID}-{Aws.REGION}"
        bucket_arn = f"arn:{Aws.PARTITION}:s3:::{bucket_name}"
        allow_s3 = self.queue.add_to_resource_policy(
            aws_iam.PolicyStatement(
                sid="AllowMediaBucketNotifications",
                principals=[aws_iam.ServicePrincipal("s3.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
                conditions={
                    "ArnEquals": {"aws:SourceArn": bucket_arn},
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
            )
        )
        self.bucket = aws_s3.Bucket(
            self,
            "Media",
            bucket_name=bucket_name,
            block_public_access=aws_s3.BlockPublicAccess.BLOCK_ALL,
            encryption=aws_s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=aws_s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # Unversioned on purpose: deleting a photo or a person must erase the biometric
            # data for good (GDPR art. 17); originals are immutable, keyed by image id.
            versioned=False,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="media/",
            lifecycle_rules=[
                aws_s3.LifecycleRule(
                    id="expire-archives",
                    prefix=ARCHIVES,
                    expiration=Duration.days(ARCHIVE_RETENTION_DAYS),
                ),
                aws_s3.LifecycleRule(
                    # A route deletes the upload it used; unused ones (an abandoned sign-up)
                    # are biometric data nobody needs.
                    id="expire-unused-selfie-uploads",
                    prefix=SELFIE_UPLOADS,
                    expiration=Duration.days(UPLOAD_RETENTION_DAYS),
                ),
                aws_s3.LifecycleRule(
                    # A job deletes its work files when it ends; a failed one leaves them.
                    id="expire-job-files",
                    prefix=JOBS,
                    expiration=Duration.days(JOB_TTL.days),
                ),
                aws_s3.LifecycleRule(
                    id="abort-incomplete-multipart-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
            ],
            removal_policy=config.removal_policy,
        )
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, aws_s3.CfnBucket)
        cfn_bucket.notification_configuration = aws_s3.CfnBucket.NotificationConfigurationProperty(
            queue_configurations=[
                aws_s3.CfnBucket.QueueConfigurationProperty(
                    event="s3:ObjectCreated:*",
                    queue=self.queue.queue_arn,
                    filter=aws_s3.CfnBucket.NotificationFilterProperty(
                        s3_key=aws_s3.CfnBucket.S3KeyFilterProperty(
                            rules=[
                                aws_s3.CfnBucket.FilterRuleProperty(name="prefix", value=ORIGINALS)
                            ]
                        )
                    ),
                )
            ]
        )
        # S3 checks that it may send to the queue when the configuration is put.
        assert allow_s3.policy_dependable is not None
        self.bucket.node.add_dependency(allow_s3.policy_dependable)

        self.alarm_topic = aws_sns.Topic(
            self, "Alarms", topic_name=f"{config.prefix}alarms", enforce_ssl=True
        )
        # enforce_ssl gives the topic a policy holding only the TLS deny, which replaces the
        # default owner policy: CloudWatch needs an explicit allow to publish alarm actions.
        self.alarm_topic.add_to_resource_policy(
            aws_iam.PolicyStatement(
                sid="AllowThisStacksAlarms",
                principals=[aws_iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.alarm_topic.topic_arn],
                conditions={
                    "ArnLike": {"aws:SourceArn": alarm_arn_pattern(config)},
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
            )
        )
        if config.alarm_email:
            self.alarm_topic.add_subscription(
                aws_sns_subscriptions.EmailSubscription(config.alarm_email)
            )
        self.dead_letter_alarm = aws_cloudwatch.Alarm(
            self,
            "DigestDeadLetterAlarm",
            alarm_name=f"{config.prefix}digest-dlq-not-empty",
            alarm_description="Upload notifications failed digest "
            f"{MAX_RECEIVE_COUNT} times; inspect and redrive the DLQ.",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=aws_cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=aws_cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.dead_letter_alarm.add_alarm_action(aws_cloudwatch_actions.SnsAction(self.alarm_topic))

    def allow_browser_origins(self, origins: list[str]) -> None:
        """CORS on the media bucket for the web app: presigned POST uploads and GETs.

        Args:
            origins: the app's origin (``https://<CloudFront domain>``) and any extra
                origins of the ``cors_origins`` context.
        """
        self.bucket.add_cors_rule(
            allowed_methods=[
                aws_s3.HttpMethods.POST,
                aws_s3.HttpMethods.GET,
                aws_s3.HttpMethods.HEAD,
            ],
            allowed_origins=origins,
            allowed_headers=["*"],
            exposed_headers=["ETag", "Location"],
            max_age=3000,
        )
