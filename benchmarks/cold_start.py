"""Cold start of the api Lambda in fresh processes: import of its handler module + first request.

Each run is a new Python process that imports ``functions/api/handler.py`` (the app is built
at import, as in a Lambda init) and then answers one API Gateway HTTP API event, ``GET /``,
through the real handler. It runs as the deployed stage does (``FINDME_STAGE=prod``): the
rate limiter counts that request in DynamoDB, here the local stack's DynamoDB Local (started
once, in memory), and the tracer is on, with the variables Lambda sets (``LAMBDA_TASK_ROOT``,
``_X_AMZN_TRACE_ID``, ...; its UDP datagrams to the absent X-Ray daemon are dropped). Only
what the api's image installs can be imported: distributions the development venv has but
``functions/requirements/digest.lock`` (the image the api runs from) does not pin
(``click``, ``rich``, ``cryptography``, ``moto``, ...) are made unimportable in the child,
because libraries change what they import when those are present (httpx imports click and
rich for its command line; PyJWT imports cryptography).

Prints JSON: the median, min and max over ``--runs`` processes of ``import_s``,
``first_request_s`` and ``total_s`` (wall), ``import_cpu_s`` and ``total_cpu_s`` (the
process's CPU time: less sensitive to other work on the machine), and the 1-minute load
average before and after (the machine is shared). ``--importtime`` adds the modules with the
largest cumulative import time from one more run under ``python -X importtime``.

``--functions DIR`` measures another copy of ``functions/`` (for example an older commit's,
``git archive COMMIT functions | tar -x -C /tmp/old``) in the same conditions; ``--ab DIR``
interleaves runs of DIR's and this checkout's and reports both.

    .venv/bin/python benchmarks/cold_start.py [--runs 5] [--importtime] [--ab DIR]
"""

from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = REPO_ROOT / "functions"
IMAGE_LOCK = REPO_ROOT / "functions" / "requirements" / "digest.lock"

#: The child: block what the image lacks, time the import and the first request, print JSON.
CHILD = r"""
import importlib.abc, importlib.metadata, importlib.util, json, re, sys, time

lock = sys.argv[1]
pinned = {re.sub(r"[-_.]+", "-", m.group(1)).lower()
          for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", open(lock).read(), re.M)}
pinned.add("findme")
blocked = {
    top for top, dists in importlib.metadata.packages_distributions().items()
    if not any(re.sub(r"[-_.]+", "-", d).lower() in pinned for d in dists)
}

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the image)", name=name)
        return None

sys.meta_path.insert(0, Absent())
sys.path.insert(0, sys.argv[3])
sys.path.insert(0, sys.argv[4])  # the functions/ measured (findme from there)
from api_gateway_events import v2_event

class Context:
    function_name = "findme-api"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:findme-api"
    aws_request_id = "cold-start"

event = v2_event("GET", "/")
t0, c0 = time.perf_counter(), time.process_time()
spec = importlib.util.spec_from_file_location("handler", sys.argv[2])
module = importlib.util.module_from_spec(spec)
sys.modules["handler"] = module
spec.loader.exec_module(module)
t1, c1 = time.perf_counter(), time.process_time()
response = module.handler(event, Context())
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({
    "import_s": t1 - t0, "first_request_s": t2 - t1, "total_s": t2 - t0,
    "import_cpu_s": c1 - c0, "total_cpu_s": c2 - c0,
    "status": response["statusCode"], "blocked": len(blocked),
    "boto3_loaded": "boto3" in sys.modules, "numpy_loaded": "numpy" in sys.modules,
}))
"""


def child_env(stack_env: dict[str, str]) -> dict[str, str]:
    """The api function's environment (as the CDK app sets it) on the local stack."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINDME_")}
    env.update(stack_env)
    env.update(
        FINDME_STAGE="prod",
        FINDME_SERVICE_NAME="findme-api",
        POWERTOOLS_SERVICE_NAME="findme-api",
        POWERTOOLS_LOG_LEVEL="WARNING",
        POWERTOOLS_METRICS_NAMESPACE="FindMe",
        # what Lambda sets: the X-Ray SDK and Powertools change course on them (in Lambda the
        # SDK samples locally; elsewhere it builds botocore X-Ray clients at import, ~0.2 s)
        AWS_LAMBDA_FUNCTION_NAME="findme-api",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024",
        AWS_EXECUTION_ENV="AWS_Lambda_python3.11",
        LAMBDA_TASK_ROOT=str(REPO_ROOT / "functions" / "api"),
        _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        AWS_XRAY_CONTEXT_MISSING="IGNORE_ERROR",
        AWS_DEFAULT_REGION="us-east-1",
    )
    return env


def run_child(
    env: dict[str, str], functions: Path, *, importtime: bool = False
) -> tuple[dict[str, Any], str]:
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", CHILD]
    cmd += [str(IMAGE_LOCK), str(functions / "api" / "handler.py"), str(REPO_ROOT / "tests")]
    cmd.append(str(functions))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the cold-start child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def top_imports(stderr: str, count: int = 15) -> list[dict[str, Any]]:
    """The ``count`` modules with the largest cumulative import time (ms), outermost first."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = (
            part.strip() for part in line.removeprefix("import time:").split("|")
        )
        rows.append(
            {
                "module": name,
                "cumulative_ms": round(int(cumulative_us) / 1000, 1),
                "self_ms": round(int(self_us) / 1000, 1),
            }
        )
    rows.sort(key=lambda r: r["cumulative_ms"], reverse=True)
    return rows[:count]


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median, min and max of each timing over ``runs``, and what the runs loaded."""
    out: dict[str, Any] = {"runs": len(runs)}
    for key in ("import_s", "first_request_s", "total_s", "import_cpu_s", "total_cpu_s"):
        values = [r[key] for r in runs]
        out[key] = {
            "median": round(statistics.median(values), 3),
            "min": round(min(values), 3),
            "max": round(max(values), 3),
        }
    out["status"] = sorted({r["status"] for r in runs})
    out["blocked_modules"] = runs[0]["blocked"]
    out["boto3_loaded"] = runs[0]["boto3_loaded"]
    out["numpy_loaded"] = runs[0]["numpy_loaded"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--functions", type=Path, default=FUNCTIONS)
    parser.add_argument("--ab", type=Path, help="another functions/ to interleave with this one")
    args = parser.parse_args()
    from findme.local.stack import start_stack

    variants = {"this": args.functions.resolve()}
    if args.ab:
        variants = {"other": args.ab.resolve(), **variants}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory(prefix="findme-coldstart-") as tmp:
        stack = start_stack(Path(tmp), qdrant_path=":memory:", persist=False)
        try:
            env = child_env(stack.env)
            for path in variants.values():
                run_child(env, path)  # warm the OS file cache: every measured run starts alike
            load_before = round(os.getloadavg()[0], 2)
            for _ in range(args.runs):
                for name, path in variants.items():  # interleaved: same load drift for both
                    runs[name].append(run_child(env, path)[0])
            load_after = round(os.getloadavg()[0], 2)
            slowest = (
                top_imports(run_child(env, variants["this"], importtime=True)[1])
                if args.importtime
                else None
            )
        finally:
            stack.stop()
    summary: dict[str, Any] = {"benchmark": "cold_start", "function": "api"}
    for name, path in variants.items():
        summary[name] = {"functions": str(path), **summarise(runs[name])}
    summary["load_avg_1m"] = [load_before, load_after]
    if slowest is not None:
        summary["slowest_imports"] = slowest
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
