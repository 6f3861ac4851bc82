"""Least privilege: each role gets only its prefixes, tables, queue and state machines."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_cdk.assertions import Template
from infra_cfn import Synth, as_list, render, statements

pytestmark = pytest.mark.infra

#: Actions AWS only authorises on Resource "*" (no resource-level permissions).
STAR_ONLY_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "sns:Publish",  # SMS to a phone number has no ARN; api role only (checked below)
}
#: The only wildcard shapes allowed in any other resource.
ALLOWED_WILDCARDS = [
    re.compile(
        r"^<StorageMedia\w+\.Arn>/(originals|faces|selfies|archives|thumbnails|previews|jobs)/\*$"
    ),
    re.compile(
        r"^arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:findme/\w+/qdrant/api-key-\?\?\?\?\?\?$"
    ),
    re.compile(
        r"^arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
        r"findme-\w+-(digest-prefix|reprocess|delete-group)/\*$"
    ),
]
ROLES = [
    "Api",
    "Curation",
    "WorkflowsReprocess",
    "WorkflowsDeleteGroup",
    "Digest",
    "Cluster",
    "Zip",
    "WorkflowsDigestPrefix",
    "WorkflowsCluster",
    "WorkflowsZip",
]


def _actions(statement: dict[str, Any]) -> set[str]:
    return set(as_list(statement["Action"]))


@pytest.mark.parametrize("role", ROLES)
def test_no_star_resource_except_where_aws_requires_it(dev: Template, role: str) -> None:
    """Given a function or state machine role, then Resource "*" appears only with actions
    that support no resource-level permissions, and any other wildcard is an object prefix,
    the Qdrant secret's random suffix or the map's child executions."""
    found = list(statements(dev, role))
    assert found
    for statement in found:
        resources = [render(r) for r in as_list(statement["Resource"])]
        if "*" in resources:
            assert resources == ["*"]
            assert _actions(statement) <= STAR_ONLY_ACTIONS, _actions(statement)
            if "sns:Publish" in _actions(statement):
                assert role == "Api"
                assert _actions(statement) == {"sns:Publish"}
            continue
        for resource in resources:
            if "*" in resource or "?" in resource:
                assert any(p.match(resource) for p in ALLOWED_WILDCARDS), resource
        assert not any(a.endswith("*") for a in _actions(statement)), statement["Action"]


def _object_actions(template: Template, role: str) -> dict[str, set[str]]:
    """key prefix -> S3 object actions of ``role``."""
    out: dict[str, set[str]] = {}
    for statement in statements(template, role):
        for resource in (render(r) for r in as_list(statement["Resource"])):
            match = re.match(r"^<StorageMedia\w+\.Arn>/(\w+)/\*$", resource)
            if match:
                out.setdefault(match.group(1), set()).update(_actions(statement))
    return out


def test_each_function_touches_only_its_prefixes(dev: Template) -> None:
    """Given the function roles, then digest reads originals and writes faces only, zip reads
    originals and writes archives only, cluster has no S3 object access at all, and nobody but
    the api and the curation worker (delete_group) delete originals."""
    digest = _object_actions(dev, "Digest")
    assert digest["originals"] == {"s3:GetObject"}
    assert "s3:PutObject" in digest["faces"]
    assert "archives" not in digest
    zip_ = _object_actions(dev, "Zip")
    assert zip_["originals"] == {"s3:GetObject"}
    assert "s3:PutObject" in zip_["archives"]
    assert set(zip_) == {"originals", "archives"}
    assert _object_actions(dev, "Cluster") == {}
    api = _object_actions(dev, "Api")
    assert "s3:DeleteObject" in api["originals"]
    for role in ("Digest", "Zip", "Cluster"):
        assert "s3:DeleteObject" not in _object_actions(dev, role).get("originals", set())


def _table_access(synth: Synth, role: str) -> dict[str, set[str]]:
    """table name (``images``) -> DynamoDB actions of ``role``."""
    ids = {
        k: t["Properties"]["TableName"].removeprefix("findme-dev-")
        for k, t in synth.resources("dev", "AWS::DynamoDB::Table").items()
    }
    out: dict[str, set[str]] = {}
    for statement in statements(synth.templates["dev"], role):
        for resource in as_list(statement["Resource"]):
            text = render(resource)
            match = re.match(r"^<(\w+)\.Arn>(/index/[\w.-]+)?$", text)
            if match and match.group(1) in ids:
                out.setdefault(ids[match.group(1)], set()).update(_actions(statement))
    return out


def test_each_function_gets_only_its_tables(synth: Synth) -> None:
    """Given the function roles, then the api reaches every table, cluster cannot write users
    or images, zip writes only jobs, and the state machines may only update jobs."""
    from findme.tables import TABLES

    assert set(_table_access(synth, "Api")) == {spec.name for spec in TABLES}
    assert "rate-limits" in {spec.name for spec in TABLES}
    cluster = _table_access(synth, "Cluster")
    assert "dynamodb:PutItem" not in cluster.get("users", set())
    assert "dynamodb:PutItem" not in cluster.get("images", set())
    assert "otp" not in cluster
    assert "user-phones" not in cluster
    zip_ = _table_access(synth, "Zip")
    assert {t for t, acts in zip_.items() if "dynamodb:PutItem" in acts} == {"jobs"}
    digest = _table_access(synth, "Digest")
    assert "users" not in digest
    assert "otp" not in digest
    for machine in (role for role in ROLES if role.startswith("Workflows")):
        assert _table_access(synth, machine) == {"jobs": {"dynamodb:UpdateItem"}}


def test_only_the_api_starts_workflows_and_each_machine_invokes_only_its_functions(
    synth: Synth,
) -> None:
    """Given all roles, then states:StartExecution is granted to the api (and the machines
    with a Distributed Map on themselves, for its children), and each state machine invokes
    exactly the functions its definition names."""
    dev = synth.templates["dev"]
    starters = {
        role
        for role in ROLES
        for s in statements(dev, role)
        if "states:StartExecution" in _actions(s)
    }
    assert starters == {
        "Api",
        "WorkflowsDigestPrefix",
        "WorkflowsReprocess",
        "WorkflowsDeleteGroup",
    }
    expected = {
        "WorkflowsDigestPrefix": {"Digest", "Cluster"},
        "WorkflowsCluster": {"Cluster"},
        "WorkflowsZip": {"Zip"},
        "WorkflowsReprocess": {"Curation"},
        "WorkflowsDeleteGroup": {"Curation"},
    }
    for role, functions in expected.items():
        invoked = {
            render(r)[1:].split("Function")[0]
            for s in statements(dev, role)
            if "lambda:InvokeFunction" in _actions(s)
            for r in as_list(s["Resource"])
        }
        assert invoked == functions, (role, invoked)
    for role in ("Api", "Digest", "Cluster", "Zip", "Curation"):
        assert not any("lambda:InvokeFunction" in _actions(s) for s in statements(dev, role))


def test_function_roles_use_no_managed_policies(dev: Template) -> None:
    """Given every role, then none attaches an AWS managed policy (inline, scoped statements
    only: logs go to the function's own log group), except CDK's BucketDeployment singleton
    that copies the web app at deploy time (acknowledged in findme_infra.nag)."""
    for logical_id, role in dev.find_resources("AWS::IAM::Role").items():
        if logical_id.startswith("CustomCDKBucketDeployment"):
            continue
        assert not role["Properties"].get("ManagedPolicyArns")


def test_only_digest_reads_the_queue_and_no_role_sends_to_it(dev: Template) -> None:
    """Given all roles, then SQS actions appear only in digest's role (its event source
    mapping: receive/delete/change visibility), and no role may send (only S3 does)."""
    for role in ROLES:
        sqs = set().union(*(_actions(s) for s in statements(dev, role) if "sqs:" in str(s)))
        if role == "Digest":
            assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= sqs
            assert "sqs:SendMessage" not in sqs
        else:
            assert not sqs, (role, sqs)


def test_curation_worker_gets_exactly_what_reprocess_and_delete_group_use(synth: Synth) -> None:
    """Given the curation role, then it reads/deletes originals (delete_group), manages face
    thumbnails and photo renditions (reprocess rebuilds them, delete_group sweeps them) and
    its maps' work files under jobs/, lists the bucket, writes the group's tables (the cascade
    of delete_group; reprocess's faces/persons/assignments), only reads reference faces, reads
    the Qdrant API key and nothing else secret, and never sees users, phones, OTPs or SMS."""
    dev = synth.templates["dev"]
    assert _object_actions(dev, "Curation") == {
        "originals": {"s3:GetObject", "s3:DeleteObject"},
        "faces": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
        "thumbnails": {"s3:PutObject", "s3:DeleteObject"},
        "previews": {"s3:PutObject", "s3:DeleteObject"},
        "jobs": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
    }
    listed = [s for s in statements(dev, "Curation") if "s3:ListBucket" in _actions(s)]
    (listing,) = listed
    assert "Condition" not in listing  # a missing key must answer 404 (see below)
    tables = _table_access(synth, "Curation")
    writes = {t for t, acts in tables.items() if "dynamodb:DeleteItem" in acts}
    assert writes == {
        "groups",
        "memberships",
        "sections",
        "images",
        "faces",
        "persons",
        "assignments",
        "jobs",
    }
    assert set(tables) - writes == {"reference-faces"}
    secrets = [
        render(r)
        for s in statements(dev, "Curation")
        if "secretsmanager:GetSecretValue" in _actions(s)
        for r in as_list(s["Resource"])
    ]
    assert secrets
    assert all(":secret:findme/dev/qdrant/api-key-" in r for r in secrets), secrets
    actions = set().union(*(_actions(s) for s in statements(dev, "Curation")))
    assert not {a for a in actions if a.startswith(("sns:", "sqs:", "states:", "lambda:"))}


def test_api_may_start_exactly_the_five_state_machines(synth: Synth) -> None:
    """Given the api role, then states:StartExecution names each of the five state machines
    (digest-prefix, cluster, zip, reprocess, delete-group) by reference, and nothing else."""
    machines = synth.resources("dev", "AWS::StepFunctions::StateMachine")
    started = {
        render(r)
        for s in statements(synth.templates["dev"], "Api")
        if "states:StartExecution" in _actions(s)
        for r in as_list(s["Resource"])
    }
    assert started == {f"<{logical_id}>" for logical_id in machines}
    assert len(started) == 5


@pytest.mark.parametrize("stage", ["dev", "prod"])
@pytest.mark.parametrize("role", ["Api", "Digest", "Curation", "Zip"])
def test_functions_that_read_objects_see_missing_keys_as_404(
    synth: Synth, stage: str, role: str
) -> None:
    """Given a function that reads objects which may have been deleted (zip's "missing photo"
    branch, digest of a deleted upload, reprocess, the api's selfie and photo reads), then it
    has s3:ListBucket on the media bucket with no s3:prefix condition: without it S3 answers
    a GET/HEAD of a missing key with 403 AccessDenied (a DependencyError) instead of 404
    (NotFoundError). A GET is not a list request, so a prefix condition would never match."""
    template = synth.templates[stage]
    (bucket_id,) = (
        k
        for k, b in synth.resources(stage, "AWS::S3::Bucket").items()
        if "NotificationConfiguration" in b["Properties"]
    )
    unconditioned = [
        s
        for s in statements(template, role)
        if "s3:ListBucket" in _actions(s)
        and "Condition" not in s
        and [render(r) for r in as_list(s["Resource"])] == [f"<{bucket_id}.Arn>"]
    ]
    assert len(unconditioned) == 1, role


@pytest.mark.parametrize(
    ("role", "machine", "reads"),
    [
        ("WorkflowsDigestPrefix", "digest-prefix", "list originals/"),
        ("WorkflowsReprocess", "reprocess", "get jobs/"),
        ("WorkflowsDeleteGroup", "delete-group", "get jobs/"),
    ],
)
def test_distributed_maps_may_read_their_items_and_run_their_children(
    synth: Synth, role: str, machine: str, reads: str
) -> None:
    """Given a state machine with a Distributed Map, then its role may read the map's items
    (digest_prefix lists originals/; reprocess and delete_group get their id list under jobs/,
    nothing else of the bucket) and start, describe and stop its own child executions only."""
    dev = synth.templates["dev"]
    found = list(statements(dev, role))
    objects = _object_actions(dev, role)
    listing = [s for s in found if "s3:ListBucket" in _actions(s)]
    if reads == "get jobs/":
        assert objects == {"jobs": {"s3:GetObject"}}
        assert not listing
    else:
        assert objects == {}
        (statement,) = listing
        assert statement["Condition"] == {"StringLike": {"s3:prefix": ["originals/*"]}}
    own = f"findme-dev-{machine}"
    started = [
        render(r)
        for s in found
        if "states:StartExecution" in _actions(s)
        for r in as_list(s["Resource"])
    ]
    assert started == [
        f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:{own}"
    ]
    described = {
        render(r)
        for s in found
        if {"states:DescribeExecution", "states:StopExecution"} <= _actions(s)
        for r in as_list(s["Resource"])
    }
    assert described == {
        f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{own}/*"
    }
