"""Deployment settings read from the CDK context (``-c key=value`` or ``cdk.json``).

Everything that differs between ``dev`` and ``prod`` lives here, so the constructs take one
:class:`StageConfig` and contain no ``if stage == ...`` branches of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal

from aws_cdk import RemovalPolicy, aws_lambda, aws_logs
from constructs import Node
from findme.errors import InvalidInputError
from findme.services.auth import normalize_phone

Stage = Literal["dev", "prod"]
STAGES: tuple[Stage, ...] = ("dev", "prod")
#: Lambda's memory range, MB (a new account may be held to NEW_ACCOUNT_MEMORY_MB).
MIN_MEMORY_MB, MAX_MEMORY_MB = 128, 10_240
#: The function memory quota AWS gives many new accounts, MB (``-c max_memory_mb=3008``).
NEW_ACCOUNT_MEMORY_MB = 3008
#: Concurrency Lambda keeps unreserved in every account: reservations need this much more.
UNRESERVED_CONCURRENCY = 100
#: Peak resident memory of each function on the largest work measured, MiB: the handler in a
#: fresh process, real models, real photos (``benchmarks/memory.py``, 2026-12-01, 2-vCPU
#: x86_64 shared with other work; cluster at 100,000 faces from ``benchmarks/cluster.py``, the
#: handler measuring within 3 % of it at 10,000 and 30,000). infra/README.md "Function sizing"
#: has every figure.
MEASURED_PEAK_MIB: dict[str, int] = {
    "api": 832,  # /get-embedding on a 50 MP PNG by selfie_key (346 on faces-dev's largest)
    # a batch with a 50 MP JPEG and a 50 MP PNG, 2 photos at once (590 on 64 faces-dev photos;
    # 812 and 453 one photo at a time), 2026-12-02
    "digest": 906,
    "curation": 812,  # re-digests photos: digest's worst case (431 on a batch of 50)
    "cluster": 1384,  # 100,000 faces, 4.8 M neighbour pairs (494 at 30,000 by the handler)
    "zip": 144,  # a 1,000-photo archive
}
#: Memory each function gets over its measured peak, at least (bigger inputs than measured,
#: allocator growth, the runtime's own share).
MIN_HEADROOM = 1.5


@dataclass(frozen=True, slots=True)
class FunctionSizing:
    """Per-function Lambda limits: memory (MB), timeout (s), /tmp (MB), reserved concurrency.

    ``reserved_concurrency`` is ``None`` when reservations are switched off
    (``-c reserve_concurrency=false``), e.g. on a new account whose concurrency quota is 10.
    """

    memory_mb: int
    timeout_s: int
    ephemeral_storage_mb: int
    reserved_concurrency: int | None


@dataclass(frozen=True, slots=True)
class StageConfig:
    """One deployment's settings (see ``infra/README.md`` for every context key)."""

    stage: Stage
    architecture: aws_lambda.Architecture
    removal_policy: RemovalPolicy
    #: DynamoDB deletion protection and S3/table retention on stack deletion.
    protect_data: bool
    log_retention: aws_logs.RetentionDays
    #: Days S3 server access logs are kept in the access-log bucket.
    access_log_days: int
    log_level: str
    #: SSM String parameter holding the Qdrant Cloud URL (resolved at deploy time).
    qdrant_url_parameter: str
    #: Secrets Manager secret (name) holding the Qdrant Cloud API key (read at run time).
    qdrant_api_key_secret_name: str
    #: Origins allowed by CORS on the API and the bucket besides the web app's own.
    cors_origins: tuple[str, ...]
    api_throttle_rate: int
    api_throttle_burst: int
    #: Optional custom domain for the HTTP API (both set, or neither).
    domain_name: str | None
    certificate_arn: str | None
    #: Optional e-mail address subscribed to the alarm topic.
    alarm_email: str | None
    api: FunctionSizing
    digest: FunctionSizing
    cluster: FunctionSizing
    zip: FunctionSizing
    #: reprocess / delete_group worker (runs in the digest image: needs the face engine).
    curation: FunctionSizing
    #: SQS -> digest: most concurrent digest invocations the event source mapping starts.
    digest_queue_max_concurrency: int
    #: Phone numbers (E.164) that become platform admins when they register.
    admin_phones: tuple[str, ...] = ()

    @property
    def sizings(self) -> dict[str, FunctionSizing]:
        """Function name -> its sizing."""
        return {
            "api": self.api,
            "digest": self.digest,
            "cluster": self.cluster,
            "zip": self.zip,
            "curation": self.curation,
        }

    @property
    def account_concurrency(self) -> int:
        """Account concurrency quota the reservations need (AWS keeps 100 unreserved)."""
        reserved = sum(s.reserved_concurrency or 0 for s in self.sizings.values())
        return reserved + UNRESERVED_CONCURRENCY

    @property
    def prefix(self) -> str:
        """Resource name prefix, e.g. ``findme-dev-``."""
        return f"findme-{self.stage}-"


def _flag(value: object, *, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _optional(node: Node, key: str) -> str | None:
    value = node.try_get_context(key)
    return str(value) if value not in (None, "") else None


def _sizing(
    memory_mb: int,
    timeout_s: int,
    ephemeral_mb: int,
    reserved: int,
    *,
    reserve: bool,
    max_memory_mb: int,
) -> FunctionSizing:
    return FunctionSizing(
        min(memory_mb, max_memory_mb), timeout_s, ephemeral_mb, reserved if reserve else None
    )


def _max_memory(node: Node) -> int:
    value = _optional(node, "max_memory_mb")
    if value is None:
        return MAX_MEMORY_MB
    try:
        cap = int(value)
    except ValueError:
        cap = 0
    if not MIN_MEMORY_MB <= cap <= MAX_MEMORY_MB:
        raise ValueError(
            f"context max_memory_mb must be {MIN_MEMORY_MB}-{MAX_MEMORY_MB}, got {value!r}"
        )
    return cap


def _admin_phones(node: Node) -> tuple[str, ...]:
    value = _optional(node, "admin_phones") or ""
    phones = []
    for raw in (p for p in value.split(",") if p.strip()):
        try:
            phones.append(normalize_phone(raw))
        except InvalidInputError as exc:
            raise ValueError(f"context admin_phones: {raw.strip()!r} is not E.164") from exc
    return tuple(dict.fromkeys(phones))


def stage_config(node: Node, stage: str | None = None) -> StageConfig:
    """Build the :class:`StageConfig` from the context of ``node`` (usually the app's).

    ``stage`` overrides the ``stage`` context value (tests build both stages in one app).

    Raises:
        ValueError: ``stage`` or ``architecture`` has an unknown value, only one of
            ``domain_name`` / ``certificate_arn`` is given, ``max_memory_mb`` is outside
            128-10,240, or an ``admin_phones`` entry is not an E.164 number.
    """
    stage = stage or str(node.try_get_context("stage") or "dev")
    if stage not in STAGES:
        raise ValueError(f"context stage must be one of {STAGES}, got {stage!r}")
    arch_name = str(node.try_get_context("architecture") or "arm64")
    architectures = {
        "arm64": aws_lambda.Architecture.ARM_64,
        "x86_64": aws_lambda.Architecture.X86_64,
    }
    if arch_name not in architectures:
        raise ValueError(f"context architecture must be arm64 or x86_64, got {arch_name!r}")
    domain_name = _optional(node, "domain_name")
    certificate_arn = _optional(node, "certificate_arn")
    if (domain_name is None) != (certificate_arn is None):
        raise ValueError("context domain_name and certificate_arn go together")
    prod = stage == "prod"
    reserve = _flag(node.try_get_context("reserve_concurrency"), default=True)
    size = partial(_sizing, reserve=reserve, max_memory_mb=_max_memory(node))
    # The web app's own origin is always allowed (findme_infra.web); these are extra ones.
    origins = _optional(node, "cors_origins") or ""
    # Sizes: see infra/README.md "Function sizing" for the figures behind each number.
    return StageConfig(
        stage="prod" if prod else "dev",
        architecture=architectures[arch_name],
        removal_policy=RemovalPolicy.RETAIN if prod else RemovalPolicy.DESTROY,
        protect_data=prod,
        log_retention=aws_logs.RetentionDays.THREE_MONTHS
        if prod
        else aws_logs.RetentionDays.TWO_WEEKS,
        access_log_days=90 if prod else 14,
        log_level="INFO" if prod else "DEBUG",
        qdrant_url_parameter=_optional(node, "qdrant_url_parameter")
        or f"/findme/{stage}/qdrant/url",
        qdrant_api_key_secret_name=_optional(node, "qdrant_api_key_secret_name")
        or f"findme/{stage}/qdrant/api-key",
        cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip()),
        api_throttle_rate=200 if prod else 20,
        api_throttle_burst=400 if prod else 40,
        domain_name=domain_name,
        certificate_arn=certificate_arn,
        alarm_email=_optional(node, "alarm_email"),
        # Memory from MEASURED_PEAK_MIB with MIN_HEADROOM, CPU for the work (1,769 MB = 1 vCPU):
        # api 1 vCPU for a face request's latency (FINDME_ORT_THREADS=1; 2.1x its peak);
        # digest 2 vCPU for 2 photos at once on 1 onnxruntime thread each (3.9x), curation for
        # its 2 onnxruntime threads (4.4x digest's old peak of one photo at a time); cluster runs on
        # one core, so memory only (2.2x the 100k-face peak); zip is I/O (7x).
        api=size(1769, 29, 512, 100 if prod else 10),
        digest=size(3538, 300, 1024, 50 if prod else 15),
        cluster=size(3008, 900, 512, 4 if prod else 2),
        zip=size(1024, 900, 512, 10 if prod else 2),
        curation=size(3538, 900, 1024, 4 if prod else 2),
        digest_queue_max_concurrency=40 if prod else 5,
        admin_phones=_admin_phones(node),
    )
