"""One validated configuration for every FindMe function (environment prefix ``FINDME_``).

Services never read ``os.environ``: they receive a :class:`Settings` (see :func:`get_settings`).
A missing or malformed value fails at cold start with pydantic's message naming the field.
"""

from __future__ import annotations

import ipaddress
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: Repository root when running from a checkout (``functions/findme/config.py`` -> root).
REPO_ROOT = Path(__file__).resolve().parents[2]
#: An E.164 country calling code with its plus: 1 to 3 digits, never starting with 0.
COUNTRY_CODE = re.compile(r"^\+[1-9]\d{0,2}$")
#: A browser origin: scheme, host and an optional port, no path (``https://d1.cloudfront.net``).
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")


def _default_model_dir() -> Path:
    """``layers/models`` in a checkout, ``/opt/models`` in a Lambda container image."""
    local = REPO_ROOT / "layers" / "models"
    return local if local.is_dir() else Path("/opt/models")


class Settings(BaseSettings):
    """All FindMe settings; every field maps to ``FINDME_<FIELD_NAME>``."""

    model_config = SettingsConfigDict(env_prefix="FINDME_", extra="ignore", frozen=True)

    # --- deployment -------------------------------------------------------------------
    stage: Literal["local", "test", "dev", "prod"] = "local"
    service_name: str = "findme"
    aws_region: str = "us-east-1"
    #: Endpoint override for S3/SQS/SNS/Secrets Manager (the local stack's moto server).
    aws_endpoint_url: str | None = None
    #: Endpoint override for DynamoDB (DynamoDB Local on the local stack).
    dynamodb_endpoint_url: str | None = None

    # --- storage ----------------------------------------------------------------------
    bucket: str = "findme-media"
    originals_prefix: str = "originals/"
    faces_prefix: str = "faces/"
    archives_prefix: str = "archives/"
    selfies_prefix: str = "selfies/"
    #: Photo renditions digest writes beside each original: ``{prefix}{group_id}/{image_id}.jpg``.
    thumbnails_prefix: str = "thumbnails/"
    previews_prefix: str = "previews/"
    #: Work files of jobs whose input grows with a group (``jobs/{job_id}/``: the id list a
    #: Distributed Map reads, per-batch summaries); the bucket lifecycle expires them.
    jobs_prefix: str = "jobs/"
    table_prefix: str = "findme-"
    digest_queue_url: str | None = None
    #: Days an archive is kept; matches the bucket lifecycle rule on ``archives/``.
    archive_retention_days: int = Field(default=7, ge=1, le=30)

    # --- vectors (Qdrant) ---------------------------------------------------------------
    #: Qdrant Cloud URL; when unset, local mode at ``qdrant_path`` is used.
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    #: Secrets Manager secret holding the Qdrant Cloud API key (AWS deployments); read at
    #: cold start when ``qdrant_api_key`` is unset. The key is never put in an env variable.
    qdrant_api_key_secret_id: str | None = None
    #: Local-mode storage: a directory, or ``:memory:`` (a temporary directory with ``edge``).
    qdrant_path: str = ".local/qdrant"
    #: The engine behind ``qdrant_path`` when ``qdrant_url`` is unset: ``edge`` (Qdrant Edge,
    #: the embedded engine, in-process with a WAL) or ``client`` (qdrant-client local mode,
    #: brute force in Python: 1.6 s per search at 100k faces).
    qdrant_local_engine: Literal["edge", "client"] = "edge"
    qdrant_collection: str = "faces"
    qdrant_timeout_s: float = Field(default=10.0, gt=0)

    # --- models and face engine -----------------------------------------------------------
    model_dir: Path = Field(default_factory=_default_model_dir)
    model_mirror: Path | None = None
    #: onnxruntime intra-op threads per session (Lambda: vCPUs of the function).
    ort_threads: int = Field(default=2, ge=1, le=16)
    #: Photos the digest worker handles at once (an SQS batch's records, a map batch's items),
    #: each on its own thread sharing the engine's sessions. The digest Lambda runs 2 workers
    #: with 1 onnxruntime thread each (``benchmarks/digest.py``, infra/README.md).
    digest_workers: int = Field(default=1, ge=1, le=16)
    detector_input_size: int = Field(default=640, ge=160, le=2048)
    detector_score_threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    detector_nms_threshold: float = Field(default=0.3, ge=0.0, le=1.0)
    #: Faces whose shorter box side is below this many pixels are dropped.
    min_face_size_px: int = Field(default=12, ge=1)
    enable_age_gender: bool = True
    #: Emotion describes facial appearance only; deployers may switch it off.
    enable_emotion: bool = True
    face_crop_size_px: int = Field(default=160, ge=32, le=1024)
    face_crop_margin: float = Field(default=0.25, ge=0.0, le=1.0)
    #: Long sides in pixels of the photo thumbnail (grids) and preview (lightbox); never upscaled.
    photo_thumbnail_px: int = Field(default=320, ge=64, le=1024)
    photo_preview_px: int = Field(default=1280, ge=320, le=4096)
    #: JPEG quality of both renditions (libjpeg scale, 1-100).
    photo_rendition_quality: int = Field(default=82, ge=30, le=100)

    # --- matching and clustering ----------------------------------------------------------
    #: Lowest cosine similarity at which a face matches (the floor of every matching bar;
    #: ~FMR 4e-4 per pair for SFace on event-dev). The bars themselves rise with the gallery:
    #: findme.domain.matching.
    match_threshold: float = Field(default=0.40, ge=-1.0, le=1.0)
    #: Target expected false persons given per search ("my photos"), persons' evidence bar.
    match_expected_false_persons: float = Field(default=0.02, gt=0.0, le=10.0)
    #: Target expected false lone faces (faces in no person) given per search: 10x stricter,
    #: a lone face has no other face to back it and is most often a one-photo guest.
    match_expected_false_faces: float = Field(default=0.002, gt=0.0, le=10.0)
    #: Target expected false candidates offered per search ("Is this you?").
    match_candidate_false_matches: float = Field(default=1.0, gt=0.0, le=100.0)
    #: Lowest bar at which a person is offered as a candidate.
    match_candidate_floor: float = Field(default=0.30, ge=-1.0, le=1.0)
    #: Best faces of a person averaged into its evidence.
    match_top_k: int = Field(default=3, ge=1, le=50)
    #: "average" (average linkage, the default) or "dbscan".
    cluster_method: Literal["average", "dbscan"] = "average"
    #: Average linkage: smallest mean cosine similarity of two clusters that merge.
    cluster_linkage_threshold: float = Field(default=0.45, gt=0.0, le=1.0)
    #: DBSCAN eps in cosine distance (1 - cosine similarity).
    cluster_eps: float = Field(default=0.475, gt=0.0, lt=2.0)
    #: DBSCAN min_samples; with average linkage, clusters smaller than this are noise.
    cluster_min_samples: int = Field(default=2, ge=1)

    # --- limits -----------------------------------------------------------------------
    #: Largest photo, bytes: a multipart file, a presigned POST's content-length-range, a
    #: Drive download.
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
    max_upload_files: int = Field(default=50, ge=1)
    #: Largest request body the API reads, bytes (``None``: only the upload limits). On
    #: Lambda the CDK app sets 4,000,000: a synchronous invocation carries at most 6 MB and
    #: API Gateway base64-encodes binary bodies (x 4/3), so a body much above ~4.4 MB never
    #: reaches the app (the client gets API Gateway's error, not the app's 413). Bigger photos
    #: go by presigned POST (``POST /users/me/selfie-uploads``, ``/register/selfie-uploads``,
    #: ``/groups/{group_id}/uploads``).
    max_request_body_bytes: int | None = Field(default=None, ge=64 * 1024)
    #: Google API key for the Drive API's public listing of shared folders (``drive_url``
    #: folder links); unset: only links to single files are fetched.
    drive_api_key: SecretStr | None = None
    #: Decompression-bomb guard: images above this many pixels are refused.
    max_image_pixels: int = Field(default=50_000_000, ge=1)
    presigned_url_expiry_s: int = Field(default=3600, ge=60, le=7 * 24 * 3600)

    # --- registration selfie quality --------------------------------------------------------
    selfie_min_face_size_px: int = Field(default=64, ge=1)
    selfie_min_confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    selfie_blur_threshold: float = Field(default=0.3, ge=0.0, le=1.0)

    # --- auth -------------------------------------------------------------------------
    #: HS256 key (>= 32 bytes). When unset, read from Secrets Manager ``jwt_secret_id``.
    jwt_secret: SecretStr | None = None
    jwt_secret_id: str = "findme/jwt-secret"  # noqa: S105 - a secret name, not a secret
    jwt_issuer: str = "findme"
    jwt_audience: str = "findme-app"
    jwt_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)
    otp_ttl_s: int = Field(default=300, ge=30)
    otp_max_attempts: int = Field(default=5, ge=1)
    #: SMS codes to one phone per hour (fixed window from its first code; SMS pumping defence).
    otp_sends_per_hour: int = Field(default=5, ge=1)
    #: Phone numbers (E.164) that are platform admins.
    admin_phones: list[str] = Field(default_factory=list)

    # --- rate limits and SMS budgets (docs/rate-limits.md) ----------------------------
    #: Requests per minute per caller on routes that declare no limit of their own.
    rate_limit_per_minute: int = Field(default=120, ge=1)
    #: Proxies whose ``X-Forwarded-For`` uvicorn believes (``findme local run``), as IP
    #: addresses or CIDR networks, comma-separated or a JSON list. Empty (the default): none,
    #: the TCP peer is the client. In AWS the client is API Gateway's ``sourceIp`` instead.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: SMS to one destination country calling code (``+44``) per hour, unless
    #: ``sms_country_limits`` names the code. Default: a 300-attendee crowd registering in
    #: 5 minutes (docs/compatibility.md, sign-in bursts) is 300 SMS; 1,000 leaves room for
    #: three such events in one country in the same hour, while pumping through one country
    #: stops at 1,000.
    sms_per_country_per_hour: int = Field(default=1000, ge=0)
    #: Per-code overrides of ``sms_per_country_per_hour`` as JSON, e.g. ``{"+1": 5000,
    #: "+44": 2000}`` to raise home markets or ``{"+882": 0}`` to send nothing there.
    sms_country_limits: dict[str, int] = Field(default_factory=dict)
    #: SMS the whole service sends per hour (every country); past it every code request is
    #: 429 ``sms_budget_exhausted`` and the ``SmsBudgetExhausted`` alarm fires. Default:
    #: three countries at their default limit.
    sms_budget_per_hour: int = Field(default=3000, ge=0)

    # --- workflows -------------------------------------------------------------------
    digest_state_machine_arn: str | None = None
    cluster_state_machine_arn: str | None = None
    zip_state_machine_arn: str | None = None
    #: Curation jobs (docs/compatibility.md):
    #: functions/findme/workflows/{reprocess,delete_group}.asl.json.
    reprocess_state_machine_arn: str | None = None
    delete_group_state_machine_arn: str | None = None
    #: Local stack: run workflows in-process and poll the digest queue.
    local_workers: bool = False
    port: int = Field(default=8080, ge=1, le=65535)
    #: Origins allowed to call the API from a browser (CORS), comma-separated or a JSON list;
    #: ``*`` allows any. E.g. the CloudFront origin of the web app (the CDK app sets it) or
    #: Vite's dev server. Empty: no CORS headers. ``findme local run`` defaults to its own
    #: origin and Vite's dev server (:func:`findme.commands.local_run.local_cors_origins`);
    #: the app it serves at ``/`` is same-origin anyway.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: The built web app (``make web``: ``web/dist``) that ``findme local run`` serves at ``/``;
    #: unset or missing: the API alone.
    web_dir: Path | None = None
    #: Local stack state: pids, endpoints (``stack.env``/``stack.json``), SMS outbox, npm jar.
    local_state_dir: Path = Field(default_factory=lambda: REPO_ROOT / ".local")

    @field_validator(
        "originals_prefix",
        "faces_prefix",
        "archives_prefix",
        "selfies_prefix",
        "thumbnails_prefix",
        "previews_prefix",
        "jobs_prefix",
    )
    @classmethod
    def _prefix_ends_with_slash(cls, value: str) -> str:
        if not value.endswith("/") or value.startswith("/"):
            raise ValueError("key prefixes end with '/' and do not start with one")
        return value

    @field_validator("trusted_proxies", "cors_origins", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: list[str]) -> list[str]:
        for proxy in value:
            ipaddress.ip_network(proxy, strict=False)  # ValueError names the bad entry
        return value

    @field_validator("sms_country_limits")
    @classmethod
    def _country_codes(cls, value: dict[str, int]) -> dict[str, int]:
        for code, limit in value.items():
            if not COUNTRY_CODE.match(code) or limit < 0:
                raise ValueError(
                    f"sms_country_limits wants '+<1-3 digits>': <limit >= 0>, got {code!r}"
                )
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not ORIGIN.match(origin):
                raise ValueError(f"cors_origins wants scheme://host[:port] origins, got {origin!r}")
        return value

    @field_validator("model_mirror", "web_dir", mode="before")
    @classmethod
    def _empty_mirror_is_none(cls, value: object) -> object:
        # The Makefile exports FINDME_MODEL_MIRROR empty when ../shared/models is absent.
        # An empty path means "none" for the web app's directory too.
        return None if value == "" else value

    @model_validator(mode="after")
    def _check_jwt_secret(self) -> Settings:
        if self.jwt_secret is not None and len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("FINDME_JWT_SECRET must be at least 32 bytes for HS256")
        return self

    def table_name(self, entity: str) -> str:
        """DynamoDB table name for an entity, e.g. ``findme-images``."""
        return f"{self.table_prefix}{entity}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once (cold start)."""
    return Settings()
