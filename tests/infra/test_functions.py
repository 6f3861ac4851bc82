"""The five Lambda functions: container images, sizing, Powertools env, tracing, logs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template
from findme.config import Settings
from infra_cfn import Synth, render

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Functions with their own image.
IMAGES = ("digest", "cluster", "zip")
#: The Dockerfile each image is built from (cluster and zip share one, by build argument).
DOCKERFILES = {
    "digest": "functions/digest/Dockerfile",
    "cluster": "functions/worker.Dockerfile",
    "zip": "functions/worker.Dockerfile",
}
#: Functions that run the digest image (they need the face engine) with their own handler.
SHARED = {"api": "api_handler.handler", "curation": "curation_handler.handler"}
NAMES = (*IMAGES, *SHARED)


def _functions(template: Template) -> dict[str, Any]:
    return {
        f["Properties"]["FunctionName"].rsplit("-", 1)[-1]: f["Properties"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if render(f["Properties"].get("FunctionName", "")).startswith("findme-")
    }


def test_every_function_is_a_container_image_on_one_architecture(dev: Template) -> None:
    """Given the dev stack, then all five functions are image functions (no zip bundling at
    synth) on arm64, with active X-Ray tracing and their own log group; api and curation run
    the digest image (same asset) with their own handler as the image command."""
    functions = _functions(dev)
    assert set(functions) == set(NAMES)
    for props in functions.values():
        assert props["PackageType"] == "Image"
        assert "ImageUri" in props["Code"]
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert "LogGroup" in props["LoggingConfig"]
        assert "Runtime" not in props
        assert "Handler" not in props
    for name, handler in SHARED.items():
        assert functions[name]["Code"] == functions["digest"]["Code"]
        assert functions[name]["ImageConfig"] == {"Command": [handler]}
    for name in IMAGES:
        assert "ImageConfig" not in functions[name]
    assert len({json.dumps(functions[n]["Code"], sort_keys=True) for n in IMAGES}) == len(IMAGES)


def test_images_are_built_for_the_lambda_architecture(synth: Synth, dev: Template) -> None:
    """Given the staged image assets, then Docker builds them for the same platform as the
    functions' architecture (an amd64 image on an arm64 function fails at invoke)."""
    manifest = json.loads((synth.outdir / "findme-dev.assets.json").read_text())
    platforms = {a["source"].get("platform") for a in manifest["dockerImages"].values()}
    architectures = {tuple(p["Architectures"]) for p in _functions(dev).values()}
    assert architectures == {("arm64",)}
    assert platforms == {"linux/arm64"}


def test_environment_is_powertools_plus_valid_findme_settings(dev: Template) -> None:
    """Given each function's environment, then Powertools service/level/namespace are set and
    every FINDME_* name is a findme.config.Settings field (a typo would be silently ignored)."""
    fields = {f"FINDME_{name.upper()}" for name in Settings.model_fields}
    for name, props in _functions(dev).items():
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == f"findme-{name}"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "FindMe"
        assert env["POWERTOOLS_LOG_LEVEL"] in {"DEBUG", "INFO"}
        findme = {k for k in env if k.startswith("FINDME_")}
        assert findme <= fields, findme - fields
        assert {
            "FINDME_BUCKET",
            "FINDME_TABLE_PREFIX",
            "FINDME_STAGE",
            "FINDME_AWS_REGION",
        } <= findme
        assert env["FINDME_TABLE_PREFIX"] == "findme-dev-"


def test_secrets_never_appear_in_environment_variables(dev: Template) -> None:
    """Given every function, then the Qdrant API key and JWT key are referenced by secret id
    only; the Qdrant URL comes from an SSM parameter resolved at deploy time."""
    template = dev.to_json()
    for name, props in _functions(dev).items():
        env = props["Environment"]["Variables"]
        assert "FINDME_QDRANT_API_KEY" not in env
        assert "FINDME_JWT_SECRET" not in env
        if "FINDME_QDRANT_URL" in env:
            param = env["FINDME_QDRANT_URL"]["Ref"]
            assert template["Parameters"][param]["Type"] == "AWS::SSM::Parameter::Value<String>"
            assert template["Parameters"][param]["Default"] == "/findme/dev/qdrant/url"
            assert env["FINDME_QDRANT_API_KEY_SECRET_ID"] == "findme/dev/qdrant/api-key"
        assert ("FINDME_JWT_SECRET_ID" in env) == (name == "api")
    assert "resolve:secretsmanager" not in json.dumps(template)


def test_api_knows_the_state_machines_it_starts(synth: Synth, dev: Template) -> None:
    """Given the api function, then it gets the five state machine ARNs it starts (Settings
    fields read by StepFunctionsOrchestrator) and nothing about the digest queue."""
    env = _functions(dev)["api"]["Environment"]["Variables"]
    machines = synth.resources("dev", "AWS::StepFunctions::StateMachine")
    names = {m["Properties"]["StateMachineName"]: k for k, m in machines.items()}
    assert env["FINDME_DIGEST_STATE_MACHINE_ARN"] == {"Ref": names["findme-dev-digest-prefix"]}
    assert env["FINDME_CLUSTER_STATE_MACHINE_ARN"] == {"Ref": names["findme-dev-cluster"]}
    assert env["FINDME_ZIP_STATE_MACHINE_ARN"] == {"Ref": names["findme-dev-zip"]}
    assert env["FINDME_REPROCESS_STATE_MACHINE_ARN"] == {"Ref": names["findme-dev-reprocess"]}
    assert env["FINDME_DELETE_GROUP_STATE_MACHINE_ARN"] == {"Ref": names["findme-dev-delete-group"]}
    assert "FINDME_DIGEST_QUEUE_URL" not in env


def test_face_engine_functions_know_where_the_models_are(dev: Template) -> None:
    """Given the functions that run the face engine (digest, curation, api), then they read
    the models from /opt/models (where the digest image copies them) and size onnxruntime's
    threads (times the photos digested at once) to their vCPUs (1,769 MB per vCPU); cluster and
    zip have no engine settings."""
    functions = _functions(dev)
    for name in ("digest", "curation", "api"):
        env = functions[name]["Environment"]["Variables"]
        assert env["FINDME_MODEL_DIR"] == "/opt/models"
        threads = int(env["FINDME_ORT_THREADS"]) * int(env.get("FINDME_DIGEST_WORKERS", "1"))
        assert 1 <= threads <= max(1, functions[name]["MemorySize"] // 1769)
        assert env["FINDME_QDRANT_API_KEY_SECRET_ID"] == "findme/dev/qdrant/api-key"
    for name in ("cluster", "zip"):
        env = functions[name]["Environment"]["Variables"]
        assert "FINDME_MODEL_DIR" not in env
        assert "FINDME_ORT_THREADS" not in env


def test_sizing_limits_and_concurrency_budget(synth: Synth) -> None:
    """Given both stages, then every function stays within Lambda limits, the api timeout fits
    the HTTP API's 30 s, digest has >= 2 vCPU (1,769 MB per vCPU) for its 2 photos at once on
    1 onnxruntime thread each (the measured layout), and digest's reserved concurrency covers
    the SQS mapping plus the Distributed Map."""
    from findme_infra.workflows import load_definition

    map_concurrency = load_definition("digest_prefix")["States"]["DigestPrefix"]["MaxConcurrency"]
    for stage in ("dev", "prod"):
        functions = _functions(synth.templates[stage])
        for props in functions.values():
            assert 128 <= props["MemorySize"] <= 10240
            assert props["Timeout"] <= 900
            assert 512 <= props["EphemeralStorage"]["Size"] <= 10240
        assert functions["api"]["Timeout"] < 30
        assert functions["api"]["MemorySize"] >= 1769  # one vCPU for the face routes
        assert functions["curation"]["MemorySize"] >= functions["digest"]["MemorySize"]
        assert functions["curation"]["Timeout"] == 900  # a whole selection per invocation
        assert functions["digest"]["MemorySize"] >= 2 * 1769
        digest_env = functions["digest"]["Environment"]["Variables"]
        assert (digest_env["FINDME_ORT_THREADS"], digest_env["FINDME_DIGEST_WORKERS"]) == ("1", "2")
        (mapping,) = (
            synth.templates[stage].find_resources("AWS::Lambda::EventSourceMapping").values()
        )
        queue_max = mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"]
        assert functions["digest"]["ReservedConcurrentExecutions"] >= queue_max + map_concurrency


def test_every_function_gets_its_measured_peak_memory_with_headroom(synth: Synth) -> None:
    """Given both stages, then each function has at least MIN_HEADROOM times the peak resident
    memory measured for its largest work (benchmarks/memory.py: real models and photos, the
    50 MP decoder worst case, 100k faces to cluster)."""
    from findme_infra.stage import MEASURED_PEAK_MIB, MIN_HEADROOM

    for stage in ("dev", "prod"):
        functions = _functions(synth.templates[stage])
        assert set(functions) == set(MEASURED_PEAK_MIB)
        for name, props in functions.items():
            assert props["MemorySize"] >= MIN_HEADROOM * MEASURED_PEAK_MIB[name], (stage, name)


def test_log_retention_depends_on_the_stage(dev: Template, prod: Template) -> None:
    """Given both stages, then every log group has a retention: 14 days in dev, 90 in prod."""
    for template, days in ((dev, 14), (prod, 90)):
        groups = template.find_resources("AWS::Logs::LogGroup")
        assert len(groups) >= 11  # 5 functions + 5 state machines + API access logs
        assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {days}


def _staged(synth: Synth, name: str) -> Path:
    manifest = json.loads((synth.outdir / "findme-dev.assets.json").read_text())
    for asset in manifest["dockerImages"].values():
        source = asset["source"]
        if source.get("dockerFile") != DOCKERFILES[name]:
            continue
        if name == "digest" or source.get("dockerBuildArgs") == {"FUNCTION": name}:
            return synth.outdir / str(source["directory"])
    raise AssertionError(f"no staged image for {name}")


@pytest.mark.parametrize("name", IMAGES)
def test_image_build_context_holds_only_what_the_image_needs(synth: Synth, name: str) -> None:
    """Given the staged build context of a function (what ``cdk deploy`` sends to Docker),
    then it holds the project files, the core package and that function only; digest alone
    gets the ONNX models and the api/curation handlers; no tests, venv, caches or other
    functions."""
    root = _staged(synth, name)
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert {
        "pyproject.toml",
        "README.md",
        DOCKERFILES[name],
        f"functions/{name}/handler.py",
    } <= files
    assert "functions/findme/config.py" in files
    assert f"functions/requirements/{name}.lock" in files
    tops = {f.split("/")[0] for f in files}
    assert tops <= {"pyproject.toml", "README.md", "functions", "layers"}
    others = {f.split("/")[1] for f in files if f.startswith("functions/") and f.count("/") >= 2}
    shared = set(SHARED) if name == "digest" else set()
    assert others == {"findme", "requirements", name} | shared
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)
    models = {f for f in files if f.startswith("layers/")}
    if name == "digest":
        assert "layers/models/manifest.json" in models
        onnx = models - {"layers/models/manifest.json"}
        assert onnx
        assert all(f.startswith("layers/models/") and f.endswith(".onnx") for f in onnx)
    else:
        assert not models


@pytest.mark.parametrize("name", IMAGES)
def test_dockerfile_installs_only_its_own_extras(name: str) -> None:
    """Given the image's Dockerfile with its build argument, then it starts from the AWS Lambda
    Python base image, installs the function's lock with --require-hashes, then the core
    package with exactly its own extras and no dependency resolution (the digest image adds
    the api extra: the api runs it), copies the function's handler and runs handler.handler;
    only digest copies the models to /opt/models."""
    text = (REPO_ROOT / DOCKERFILES[name]).read_text()
    if name != "digest":  # the worker Dockerfile, as `--build-arg FUNCTION=<name>` builds it
        assert text.count("ARG FUNCTION") == 2  # each stage declares it
        text = text.replace("${FUNCTION}", name)
    assert "FROM ${BASE_IMAGE}" in text
    assert "public.ecr.aws/lambda/python:3.12" in text
    (extras,) = re.findall(r'"\.\[([\w,]+)\]"', text)
    assert set(extras.split(",")) == ({"digest", "api"} if name == "digest" else {name})
    install = "--require-hashes --no-deps \\\n      --target /opt/site -r functions/requirements/"
    assert f"{install}{name}.lock" in text
    assert f"COPY functions/{name}/handler.py ${{LAMBDA_TASK_ROOT}}/" in text
    assert 'CMD ["handler.handler"]' in text
    assert ("COPY layers/models/*.onnx /opt/models/" in text) == (name == "digest")
    assert ("COPY layers/models/manifest.json /opt/models/" in text) == (name == "digest")


def test_image_has_every_model_file_the_manifest_names() -> None:
    """Given layers/models/manifest.json (the engine resolves model files through it, from
    /opt/models in the image), then every file and derived copy it names is an .onnx file,
    i.e. one the digest Dockerfile's ``COPY layers/models/*.onnx`` puts beside it."""
    manifest = json.loads((REPO_ROOT / "layers" / "models" / "manifest.json").read_text())
    files = [m["file"] for m in manifest["models"]]
    files += [m["derived"]["file"] for m in manifest["models"] if m.get("derived")]
    assert files
    assert all(f.endswith(".onnx") and "/" not in f for f in files), files


@pytest.mark.parametrize("name", sorted(SHARED))
def test_shared_image_holds_the_handler_its_command_names(name: str) -> None:
    """Given a function that runs another function's image, then that image's Dockerfile
    copies functions/<name>/handler.py to the module its image command names, and the
    function has no Dockerfile of its own (it would never be built)."""
    from findme_infra.functions import SHARED_IMAGE

    host, handler = SHARED_IMAGE[name]
    assert handler == SHARED[name]
    module = handler.rsplit(".", 1)[0]
    text = (REPO_ROOT / "functions" / host / "Dockerfile").read_text()
    assert f"COPY functions/{name}/handler.py ${{LAMBDA_TASK_ROOT}}/{module}.py" in text
    assert not (REPO_ROOT / "functions" / name / "Dockerfile").exists()


_ADAPTERS = ("findme.adapters.dynamodb", "findme.adapters.secrets")
#: image -> (extras it installs, handlers it runs, modules they import lazily, modules it must
#: not have): the handlers' cold-start imports and the adapters wiring builds on first use.
IMAGE_CONTENTS: dict[str, tuple[list[str], list[str], list[str], list[str]]] = {
    "digest": (
        ["digest", "api"],
        ["digest", "api", "curation"],
        [
            *_ADAPTERS,
            "findme.adapters.s3",
            "findme.adapters.qdrant",
            "findme.adapters.onnx_engine",
            "findme.adapters.image_decode",
            "findme.adapters.stepfunctions",
            "findme.adapters.sns",
            "findme.adapters.ratelimit",
            "onnxruntime",
            "cv2",
            "pillow_heif",
        ],
        ["sklearn", "scipy", "moto", "uvicorn", "aws_cdk"],
    ),
    "cluster": (
        ["cluster"],
        ["cluster"],
        [
            *_ADAPTERS,
            "findme.adapters.qdrant",
            "sklearn.neighbors",
            "scipy.sparse.csgraph",
            "scipy.optimize",
        ],
        ["onnxruntime", "cv2", "fastapi", "moto"],
    ),
    "zip": (
        ["zip"],
        ["zip"],
        [*_ADAPTERS, "findme.adapters.s3"],
        ["onnxruntime", "cv2", "sklearn", "fastapi", "moto"],
    ),
}


@pytest.mark.parametrize("image", sorted(IMAGE_CONTENTS))
def test_handlers_import_with_only_what_their_image_installs(image: str) -> None:
    """Given an image's runtime closure (findme[<extras>] as its lock pins it), when its
    handlers and the adapters they build are imported with every other installed distribution
    hidden, then all import (a dependency only the dev venv has would fail the cold start
    with Runtime.ImportModuleError) and the other images' heavy packages are absent."""
    extras, handlers, modules, absent = IMAGE_CONTENTS[image]
    spec = {
        "extras": extras,
        "handlers": [str(REPO_ROOT / "functions" / h / "handler.py") for h in handlers],
        "modules": [*modules, *absent],
    }
    env = {**os.environ, "FINDME_STAGE": "test", "POWERTOOLS_TRACE_DISABLED": "1"}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("image_imports.py")), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO_ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    failed = json.loads(done.stdout.strip().splitlines()[-1])["failed"]
    assert set(failed) == set(absent), {k: v for k, v in failed.items() if k not in absent}
    assert all(v.startswith("ModuleNotFoundError") for v in failed.values()), failed


def test_a_new_account_deploy_fits_its_memory_quota_and_names_its_first_admin(
    new_account: Template,
) -> None:
    """Given the stack synthesised with -c max_memory_mb=3008 -c admin_phones=+14155550123,
    then no function asks for more than 3,008 MB (CloudFormation would be refused on such an
    account), and the api's FINDME_ADMIN_PHONES is what Settings parses into that phone."""
    import os
    from unittest import mock

    from findme.config import Settings
    from findme_infra.stage import MEASURED_PEAK_MIB, MIN_HEADROOM

    functions = _functions(new_account)
    assert max(f["MemorySize"] for f in functions.values()) <= 3008
    for name, props in functions.items():  # still above every measured peak
        assert props["MemorySize"] >= MIN_HEADROOM * MEASURED_PEAK_MIB[name], name
    value = functions["api"]["Environment"]["Variables"]["FINDME_ADMIN_PHONES"]
    with mock.patch.dict(os.environ, {"FINDME_ADMIN_PHONES": value}):
        assert Settings().admin_phones == ["+14155550123"]
    for name in ("digest", "cluster", "zip", "curation"):
        assert "FINDME_ADMIN_PHONES" not in functions[name]["Environment"]["Variables"]
