"""cdk-nag AwsSolutions checks, and every acknowledged finding with its written reason.

Each acknowledgement is scoped to the construct that needs it (never the whole stack) and
names one finding (``AwsSolutions-IAM5[Resource::...]``), so a new wildcard elsewhere still
fails synth. The reasons are also written into the template metadata (``cdk_nag``).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Stack, Validations, aws_s3
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from findme_infra.functions import ACCESS
from findme_infra.stack import FindMeStack
from findme_infra.storage import JOBS
from findme_infra.workflows import item_readers, load_definition

_PACK = "AwsSolutions::"

REASON_XRAY = (
    "Resource '*' only for xray:PutTraceSegments/PutTelemetryRecords (active tracing), which "
    "support no resource-level permissions (AWS requires '*')."
)
REASON_SMS = (
    "Resource '*' also for sns:Publish of OTP text messages: publishing to a phone number has no "
    "resource ARN (AWS requires '*'); the role has no other SNS action."
)
REASON_STATES_LOGS = (
    "Resource '*' only for CloudWatch Logs vended log delivery (logs:*LogDelivery, "
    "PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) and X-Ray, added by CDK for "
    "execution logging and tracing; these actions support no resource-level permissions."
)
REASON_OBJECTS = (
    "Object ARN '{prefix}*' names the objects under one key prefix (S3 needs the trailing "
    "wildcard); the role gets only the object actions it uses on that prefix."
)
REASON_CHILD_EXECUTIONS = (
    "Distributed Map child executions get generated ARNs (execution:<name>/<map run>:<id>); "
    "AWS documents execution:<stateMachineName>/* for DescribeExecution/StopExecution, limited "
    "to this state machine's own executions."
)
REASON_JWT_ROTATION = (
    "Rotating the HS256 signing key would invalidate every issued session token at once "
    "(7-day TTL); rotation waits for dual-key verification in findme.services.auth. Until then "
    "rotate by hand in a maintenance window (put-secret-value)."
)
REASON_API_AUTH = (
    "Authorization is in the application: HS256 bearer tokens issued after a phone OTP, checked "
    "per route in findme.web.deps (public routes: OTP request/verify, health). API Gateway JWT "
    "authorizers need an OIDC issuer with asymmetric JWKS, which HS256 tokens do not have."
)


REASON_WEB_DEPLOY = (
    "The web app's BucketDeployment custom resource is CDK's own singleton Lambda (its runtime, "
    "AWSLambdaBasicExecutionRole and s3:GetObject*/List*/DeleteObject* on the app bucket and the "
    "CDK asset bucket, and cloudfront:CreateInvalidation on '*' are set by aws-cdk-lib); it only "
    "copies the built app at deploy time and invalidates the shell."
)
REASON_CDN_GEO = "A public web app for event attendees anywhere: no country is excluded."
REASON_CDN_WAF = (
    "The distribution serves static files only (GET/HEAD of a private bucket through OAC); the "
    "API it calls has its own throttling and rate limits. Add WAF with a custom domain."
)
REASON_CDN_LOGS = (
    "CloudFront standard logs need an ACL-enabled bucket; the app is static files whose bucket "
    "reads are already in the S3 server access logs. Enable with the custom domain."
)
REASON_CDN_TLS = (
    "The default *.cloudfront.net certificate fixes the security policy; a custom domain with "
    "an ACM certificate (TLSv1.2_2021) is the deployer's choice (infra/README.md)."
)


def _ack(scope: IConstruct, finding: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{_PACK}{finding}", reason=reason))


def add_checks(app: App) -> None:
    """Validate every stack of ``app`` with the AwsSolutions pack at synth (once per app)."""
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True)
    )


def acknowledge_findings(stack: FindMeStack) -> None:
    """Acknowledge the findings of ``stack`` listed here, each on its construct, with a reason."""
    cfn_bucket = stack.storage.bucket.node.default_child
    assert isinstance(cfn_bucket, aws_s3.CfnBucket)
    bucket_arn = f"<{Stack.of(stack).resolve(stack.get_logical_id(cfn_bucket))}.Arn>"
    for name, fn in stack.functions.items():
        reason = f"{REASON_XRAY} {REASON_SMS}" if ACCESS[name].sms else REASON_XRAY
        _ack(fn.role, "AwsSolutions-IAM5[Resource::*]", reason)
        for prefix in ACCESS[name].objects:
            _ack(
                fn.role,
                f"AwsSolutions-IAM5[Resource::{bucket_arn}/{prefix}*]",
                REASON_OBJECTS.format(prefix=prefix),
            )
    for workflow, machine in stack.workflows.state_machines.items():
        _ack(machine.role, "AwsSolutions-IAM5[Resource::*]", REASON_STATES_LOGS)
        readers = item_readers(load_definition(workflow))
        if readers:
            name = f"{stack.config.prefix}{workflow.replace('_', '-')}"
            _ack(
                machine.role,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:"
                f"<AWS::AccountId>:execution:{name}/*]",
                REASON_CHILD_EXECUTIONS,
            )
        if "arn:aws:states:::s3:getObject" in readers:
            _ack(
                machine.role,
                f"AwsSolutions-IAM5[Resource::{bucket_arn}/{JOBS}*]",
                REASON_OBJECTS.format(prefix=JOBS),
            )
    _ack(stack.secrets.jwt_secret, "AwsSolutions-SMG4", REASON_JWT_ROTATION)
    _ack(stack.api.http_api, "AwsSolutions-APIG4", REASON_API_AUTH)
    acknowledge_web_findings(stack)


def acknowledge_web_findings(stack: FindMeStack) -> None:
    """The web app's CloudFront distribution and CDK's BucketDeployment Lambda."""
    distribution = stack.web.distribution
    _ack(distribution, "AwsSolutions-CFR1", REASON_CDN_GEO)
    _ack(distribution, "AwsSolutions-CFR2", REASON_CDN_WAF)
    _ack(distribution, "AwsSolutions-CFR3", REASON_CDN_LOGS)
    _ack(distribution, "AwsSolutions-CFR4", REASON_CDN_TLS)
    for child in stack.node.children:
        if child.node.id.startswith("Custom::CDKBucketDeployment"):
            for finding in (
                "AwsSolutions-L1",
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                "AwsSolutions-IAM5[Action::s3:GetObject*]",
                "AwsSolutions-IAM5[Action::s3:GetBucket*]",
                "AwsSolutions-IAM5[Action::s3:List*]",
                "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
                "AwsSolutions-IAM5[Action::s3:Abort*]",
                "AwsSolutions-IAM5[Resource::<WebBucketE51352C0.Arn>/*]",
                "AwsSolutions-IAM5[Resource::*]",  # cloudfront:CreateInvalidation/GetInvalidation
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-"
                "<AWS::AccountId>-<AWS::Region>/*]",
            ):
                _ack(child, finding, REASON_WEB_DEPLOY)
