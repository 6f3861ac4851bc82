"""``FindMeStack``: storage, tables, secrets, functions, workflows and API wired together."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import Aws, CfnOutput, Stack
from constructs import Construct

from findme_infra.alarms import SmsAlarms
from findme_infra.api import Api
from findme_infra.functions import ACCESS, FindMeFunction, findme_env, grant_access
from findme_infra.secrets import Secrets
from findme_infra.stage import StageConfig
from findme_infra.storage import Storage
from findme_infra.tables import Tables
from findme_infra.web import DEFAULT_WEB_DIST, WebApp
from findme_infra.workflows import Workflows, connect_digest_queue

#: Where the digest image puts the ONNX models (``COPY layers/models/*.onnx /opt/models/``).
MODEL_DIR = "/opt/models"
#: Largest request body the api reads on Lambda, bytes. A synchronous invocation carries at
#: most 6 MB (6,291,456 bytes) and API Gateway base64-encodes a binary body (4 bytes per 3):
#: 4,000,000 bytes become 5,333,336, leaving ~0.9 MB for headers and the event's JSON, so any
#: body the app may refuse reaches it and gets its 413 (not the gateway's error). Bigger photos
#: go by presigned POST.
API_MAX_REQUEST_BODY_BYTES = 4_000_000

_DESCRIPTIONS = {
    "api": "FindMe HTTP API (FastAPI via Mangum; face routes run the engine in process)",
    "digest": "FindMe digest: detect, align, embed and grade the faces of uploaded photos",
    "cluster": "FindMe cluster: DBSCAN of a group's faces into persons",
    "zip": "FindMe zip: stream a selection of originals into one archive",
    "curation": "FindMe curation jobs: reprocess photos, delete a group",
}


class FindMeStack(Stack):
    """The whole FindMe deployment for one stage (``findme-dev`` or ``findme-prod``).

    Attributes:
        storage, tables, secrets, workflows, api, sms_alarms: the constructs per concern.
        functions: function name (``"digest"``) -> :class:`FindMeFunction`.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.storage = Storage(
            self, "Storage", config=config, digest_timeout_s=config.digest.timeout_s
        )
        # The web app's origin is what browsers send: the media bucket's CORS allows it for
        # presigned POST uploads and GETs, the HTTP API's CORS preflight for API calls.
        self.web = WebApp(self, "Web", config=config, access_logs=self.storage.access_logs)
        self.cors_origins = [self.web.origin, *config.cors_origins]
        self.storage.allow_browser_origins(self.cors_origins)
        self.tables = Tables(self, "Tables", config=config)
        self.secrets = Secrets(self, "Secrets", config=config)

        shared = findme_env(
            aws_region=Aws.REGION,
            bucket=self.storage.bucket.bucket_name,
            table_prefix=self.tables.table_prefix,
        )
        qdrant = findme_env(
            qdrant_url=self.secrets.qdrant_url,
            qdrant_api_key_secret_id=config.qdrant_api_key_secret_name,
        )
        per_function = {
            # Two photos at once, one onnxruntime thread each, on 2 vCPUs: the measured best
            # layout (benchmarks/digest.py; infra/README.md "Function sizing").
            "digest": {
                **qdrant,
                **findme_env(model_dir=MODEL_DIR, ort_threads="1", digest_workers="2"),
            },
            "cluster": qdrant,
            "zip": {},
            # Reprocess digests its photos one after another: both vCPUs go to onnxruntime.
            "curation": {**qdrant, **findme_env(model_dir=MODEL_DIR, ort_threads="2")},
        }
        self.functions: dict[str, FindMeFunction] = {}
        for name in ("digest", "cluster", "zip", "curation"):
            self.functions[name] = self._function(name, {**shared, **per_function[name]})
        connect_digest_queue(self.functions["digest"].function, self.storage.queue, config)

        self.workflows = Workflows(
            self,
            "Workflows",
            config=config,
            functions={name: fn.function for name, fn in self.functions.items()},
            bucket=self.storage.bucket,
            jobs_table_name=self.tables.tables["jobs"].table_name,
            jobs_table_arn=self.tables.tables["jobs"].table_arn,
        )
        machines = self.workflows.state_machines
        api_env = {
            **shared,
            **qdrant,
            # The face routes run the engine in process (digest image); one vCPU, one thread.
            **findme_env(model_dir=MODEL_DIR, ort_threads="1"),
            **findme_env(max_request_body_bytes=str(API_MAX_REQUEST_BODY_BYTES)),
            # Who becomes a platform admin on registering (-c admin_phones=+1...,+44...).
            **(
                findme_env(admin_phones=json.dumps(list(config.admin_phones)))
                if config.admin_phones
                else {}
            ),
            **findme_env(
                jwt_secret_id=self.secrets.jwt_secret.secret_arn,
                digest_state_machine_arn=machines["digest_prefix"].state_machine_arn,
                cluster_state_machine_arn=machines["cluster"].state_machine_arn,
                zip_state_machine_arn=machines["zip"].state_machine_arn,
                reprocess_state_machine_arn=machines["reprocess"].state_machine_arn,
                delete_group_state_machine_arn=machines["delete_group"].state_machine_arn,
            ),
        }
        self.functions["api"] = self._function("api", api_env)
        api_role = self.functions["api"].role
        for machine in machines.values():
            machine.grant_start_execution(api_role)
        self.secrets.jwt_secret.grant_read(api_role)
        self.api = Api(
            self,
            "HttpApi",
            config=config,
            handler=self.functions["api"].function,
            cors_origins=self.cors_origins,
        )
        web_dist = self.node.try_get_context("web_dist")
        self.web.deploy(
            Path(web_dist) if web_dist else DEFAULT_WEB_DIST, api_url=self.api.http_api.api_endpoint
        )
        self.sms_alarms = SmsAlarms(
            self,
            "SmsAlarms",
            config=config,
            service=self.functions["api"].service_name,
            topic=self.storage.alarm_topic,
        )

        CfnOutput(self, "ApiUrl", value=self.api.http_api.api_endpoint)
        CfnOutput(self, "WebAppUrl", value=self.web.origin)
        CfnOutput(self, "BucketName", value=self.storage.bucket.bucket_name)
        CfnOutput(self, "DigestQueueUrl", value=self.storage.queue.queue_url)
        for workflow, machine in machines.items():
            CfnOutput(
                self,
                f"{workflow.title().replace('_', '')}StateMachineArn",
                value=machine.state_machine_arn,
            )

    def _function(self, name: str, environment: dict[str, str]) -> FindMeFunction:
        sizing = self.config.sizings[name]
        fn = FindMeFunction(
            self,
            name.capitalize(),
            name=name,
            config=self.config,
            sizing=sizing,
            environment=environment,
            description=_DESCRIPTIONS[name],
        )
        access = ACCESS[name]
        grant_access(fn.role, access, bucket=self.storage.bucket, tables=self.tables)
        if access.qdrant:
            self.secrets.qdrant_api_key.grant_read(fn.role)
        return fn
