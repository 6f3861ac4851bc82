"""The Lambda functions: container images built from ``functions/digest/Dockerfile`` (digest,
and api and curation, which need the face engine) and ``functions/worker.Dockerfile`` (cluster
and zip, one file with ``--build-arg FUNCTION=<name>``).

Each function has its own role (no managed policies), its own log group with the stage's
retention, X-Ray tracing, the Powertools environment, and only the IAM statements its
:class:`Access` lists. Images are *staged* at synth (the build context is copied into
``cdk.out``) and *built* by ``cdk deploy``, so ``cdk synth`` needs neither Docker nor AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import (
    Duration,
    IgnoreMode,
    Size,
    aws_ecr_assets,
    aws_iam,
    aws_lambda,
    aws_logs,
    aws_s3,
)
from constructs import Construct
from findme.config import Settings
from findme.observability import METRICS_NAMESPACE  # the namespace every metric is written to
from findme.tables import TABLES

from findme_infra.stage import FunctionSizing, StageConfig
from findme_infra.storage import (
    ARCHIVES,
    FACES,
    JOBS,
    ORIGINALS,
    PREVIEWS,
    SELFIES,
    THUMBNAILS,
)
from findme_infra.tables import Tables

REPO_ROOT = Path(__file__).resolve().parents[2]

_READ_ITEMS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
)
_WRITE_ITEMS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
)


@dataclass(frozen=True, slots=True)
class Access:
    """What one function may touch: object actions per key prefix, tables, secrets, SMS.

    ``objects`` maps a key prefix (``"originals/"``) to S3 object actions on ``prefix*``;
    ``list_bucket`` grants ``s3:ListBucket`` on the bucket with no ``s3:prefix`` condition:
    without it S3 answers a GET/HEAD of a missing key with 403 instead of 404, and a GET is
    not a list request, so a prefix condition would never match it; ``tables_rw`` and
    ``tables_ro`` are :mod:`findme.tables` spec names.
    """

    objects: dict[str, tuple[str, ...]] = field(default_factory=dict)
    list_bucket: bool = False
    tables_rw: tuple[str, ...] = ()
    tables_ro: tuple[str, ...] = ()
    qdrant: bool = False
    jwt_secret: bool = False
    #: SNS Publish to phone numbers (OTP by SMS); AWS has no resource ARN for a phone number.
    sms: bool = False


_GET, _PUT, _DELETE, _ABORT = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
)

#: Least privilege per function (see infra/README.md "IAM"); table names are spec names.
ACCESS: dict[str, Access] = {
    # The API signs presigned POST/GET URLs (signed with its own role), deletes photos, faces
    # and archives in cascades, writes the id list of a reprocess job, reads/writes every
    # table, and sends OTP SMS.
    "api": Access(
        objects={
            ORIGINALS: (_GET, _PUT, _DELETE),
            FACES: (_GET, _DELETE),
            THUMBNAILS: (_GET, _DELETE),
            PREVIEWS: (_GET, _DELETE),
            SELFIES: (_GET, _PUT, _DELETE),
            ARCHIVES: (_GET, _DELETE),
            JOBS: (_PUT,),
        },
        list_bucket=True,
        tables_rw=tuple(spec.name for spec in TABLES),  # rate-limits included
        qdrant=True,
        jwt_secret=True,
        sms=True,
    ),
    # Digest reads originals (and selfies for re-embedding reference faces), writes face
    # thumbnails and the photos' thumbnails and previews, images/faces/persons/jobs; reads
    # groups and assignments (the person links' table, by its deployed name).
    "digest": Access(
        objects={
            ORIGINALS: (_GET,),
            SELFIES: (_GET,),
            FACES: (_GET, _PUT, _DELETE),
            THUMBNAILS: (_PUT, _DELETE),
            PREVIEWS: (_PUT, _DELETE),
        },
        list_bucket=True,
        tables_rw=("images", "faces", "persons", "jobs"),
        tables_ro=("groups", "assignments", "reference-faces"),
        qdrant=True,
    ),
    # Cluster works on embeddings (Qdrant) and metadata only: no S3.
    "cluster": Access(
        tables_rw=("faces", "persons", "assignments", "jobs"),
        tables_ro=("groups", "images", "reference-faces", "users"),
        qdrant=True,
    ),
    # Curation worker: reprocess (re-digest photos: like digest) and delete_group (cascade
    # delete of a group's originals, thumbnails, items and vectors); the maps' work files
    # (delete_group's id list, batch summaries, read and deleted by the last step).
    "curation": Access(
        objects={
            ORIGINALS: (_GET, _DELETE),
            FACES: (_GET, _PUT, _DELETE),
            THUMBNAILS: (_PUT, _DELETE),
            PREVIEWS: (_PUT, _DELETE),
            JOBS: (_GET, _PUT, _DELETE),
        },
        list_bucket=True,
        tables_rw=(
            "groups",
            "memberships",
            "sections",
            "images",
            "faces",
            "persons",
            "assignments",
            "jobs",
        ),
        tables_ro=("reference-faces",),
        qdrant=True,
    ),
    # Zip streams originals into archives/{job_id}.zip with a multipart upload and presigns it;
    # a photo deleted meanwhile must read as missing (404), not fail the archive (403).
    "zip": Access(
        objects={ORIGINALS: (_GET,), ARCHIVES: (_GET, _PUT, _ABORT)},
        list_bucket=True,
        tables_rw=("jobs",),
        tables_ro=("images", "faces", "persons", "groups"),
    ),
}

#: Files each image's build context needs besides the core package (Docker ignore syntax).
_CONTEXT_EXTRA: dict[str, tuple[str, ...]] = {
    # The models and their manifest (findme.model_manifest.load_manifest reads
    # <model_dir>/manifest.json in an image: the checkout's copy is not there).
    "digest": (
        "!layers/models/*.onnx",
        "!layers/models/manifest.json",
        "!functions/curation",
        "!functions/api",
    ),
}
#: Functions that run in another function's image, with their handler (image CMD). The api
#: needs the face engine for /get-faces, /search-face and selfie registration (decision in
#: ``findme.web.app``: the engine runs in the api's own process, no Lambda-to-Lambda hop), and
#: curation re-digests photos: both run the digest image (one build, one push per deploy).
#: Functions built from ``functions/worker.Dockerfile`` with ``--build-arg FUNCTION=<name>``
#: (no face engine; their lock and extra carry the function's name).
WORKER_IMAGES = frozenset({"cluster", "zip"})
WORKER_DOCKERFILE = "functions/worker.Dockerfile"

SHARED_IMAGE: dict[str, tuple[str, str]] = {
    "api": ("digest", "api_handler.handler"),
    "curation": ("digest", "curation_handler.handler"),
}


def findme_env(**values: str) -> dict[str, str]:
    """``FINDME_*`` environment variables, checked against :class:`findme.config.Settings`.

    Raises:
        KeyError: a name is not a Settings field (a typo would be silently ignored at run time).
    """
    unknown = sorted(set(values) - set(Settings.model_fields))
    if unknown:
        raise KeyError(f"not Settings fields: {unknown}")
    return {f"FINDME_{name.upper()}": value for name, value in values.items()}


def image_code(name: str, config: StageConfig) -> aws_lambda.DockerImageCode:
    """The container image of function ``name``: build context = repository root, filtered.

    Only ``pyproject.toml``, ``README.md``, ``functions/requirements/``, ``functions/findme/``,
    ``functions/<name>/`` (and ``layers/models/{*.onnx,manifest.json}``, ``functions/curation/``
    and ``functions/api/`` for digest; ``functions/worker.Dockerfile`` for
    :data:`WORKER_IMAGES`) are staged, so unrelated edits do not change the asset hash and
    force a rebuild.
    A :data:`SHARED_IMAGE` function reuses the other image (same asset, built and pushed
    once) with its own handler as the image command.
    """
    cmd = None
    if name in SHARED_IMAGE:
        name, handler = SHARED_IMAGE[name]
        cmd = [handler]
    exclude = [
        "*",
        "!pyproject.toml",
        "!README.md",
        "!functions",
        "functions/*",
        "!functions/findme",
        "!functions/requirements",
        f"!functions/{name}",
        *((f"!{WORKER_DOCKERFILE}",) if name in WORKER_IMAGES else ()),
        *_CONTEXT_EXTRA.get(name, ()),
        "**/__pycache__",
        "**/*.pyc",
    ]
    platform = (
        aws_ecr_assets.Platform.LINUX_ARM64
        # jsii returns a new proxy per access: compare names, not objects.
        if config.architecture.name == aws_lambda.Architecture.ARM_64.name
        else aws_ecr_assets.Platform.LINUX_AMD64
    )
    return aws_lambda.DockerImageCode.from_image_asset(
        str(REPO_ROOT),
        file=WORKER_DOCKERFILE if name in WORKER_IMAGES else f"functions/{name}/Dockerfile",
        build_args={"FUNCTION": name} if name in WORKER_IMAGES else None,
        platform=platform,
        exclude=exclude,
        ignore_mode=IgnoreMode.DOCKER,
        asset_name=f"findme-{name}",
        cmd=cmd,
    )


class FindMeFunction(Construct):
    """One container-image Lambda with its role, log group and Powertools settings.

    Attributes:
        function: the Lambda function (``findme-<stage>-<name>``).
        role: its execution role (inline statements only).
        log_group: its log group (retention from the stage).
        service_name: its Powertools service and ``FINDME_SERVICE_NAME`` (``findme-<name>``),
            the ``service`` dimension of the metrics it publishes.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        config: StageConfig,
        sizing: FunctionSizing,
        environment: dict[str, str],
        description: str,
    ) -> None:
        super().__init__(scope, construct_id)
        function_name = f"{config.prefix}{name}"
        self.log_group = aws_logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        self.role = aws_iam.Role(
            self,
            "Role",
            assumed_by=aws_iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"FindMe {name} function ({config.stage})",
        )
        self.role.add_to_principal_policy(
            aws_iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        service = f"findme-{name}"
        self.service_name = service
        self.function = aws_lambda.DockerImageFunction(
            self,
            "Function",
            function_name=function_name,
            description=description,
            code=image_code(name, config),
            architecture=config.architecture,
            memory_size=sizing.memory_mb,
            timeout=Duration.seconds(sizing.timeout_s),
            ephemeral_storage_size=Size.mebibytes(sizing.ephemeral_storage_mb),
            reserved_concurrent_executions=sizing.reserved_concurrency,
            tracing=aws_lambda.Tracing.ACTIVE,
            role=self.role,
            log_group=self.log_group,
            environment={
                "POWERTOOLS_SERVICE_NAME": service,
                "POWERTOOLS_LOG_LEVEL": config.log_level,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                **findme_env(stage=config.stage, service_name=service),
                **environment,
            },
        )


def grant_access(
    role: aws_iam.IRole,
    access: Access,
    *,
    bucket: aws_s3.IBucket,
    tables: Tables,
) -> None:
    """Add ``access`` to ``role`` as explicit statements: exact table and index ARNs, objects
    under named prefixes only, listing on the bucket itself (see :class:`Access`)."""
    for prefix, actions in access.objects.items():
        role.add_to_principal_policy(
            aws_iam.PolicyStatement(
                actions=list(actions), resources=[bucket.arn_for_objects(f"{prefix}*")]
            )
        )
    if access.list_bucket:
        role.add_to_principal_policy(
            aws_iam.PolicyStatement(
                sid="ListBucketSoMissingKeysAre404",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
            )
        )
    for names, actions in (
        (access.tables_rw, _READ_ITEMS + _WRITE_ITEMS),
        (access.tables_ro, _READ_ITEMS),
    ):
        if not names:
            continue
        resources: list[str] = []
        for spec_name in names:
            table = tables.tables[spec_name]
            resources.append(table.table_arn)
            resources += [
                f"{table.table_arn}/index/{ix.name}" for ix in tables.specs[spec_name].indexes
            ]
        role.add_to_principal_policy(
            aws_iam.PolicyStatement(actions=list(actions), resources=resources)
        )
    if access.sms:
        role.add_to_principal_policy(
            aws_iam.PolicyStatement(
                sid="SendOtpSms",
                actions=["sns:Publish"],
                # Publishing to a phone number has no resource ARN: AWS requires "*".
                resources=["*"],
            )
        )
