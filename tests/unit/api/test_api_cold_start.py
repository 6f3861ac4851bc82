"""What the api Lambda imports at cold start: only what its first request needs.

``benchmarks/cold_start.py`` measures the time; this guards the imports it was cut by.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

#: Loaded where a request needs them: S3 routes (boto3, s3transfer), metadata routes
#: (pynamodb), link fetches (httpx), never in the api (the rest).
LAZY = ("boto3", "s3transfer", "pynamodb", "httpx", "qdrant_client", "qdrant_edge", "cv2")


def test_api_handler_imports_no_heavy_module_until_a_request_needs_it() -> None:
    # Given a fresh interpreter set up as the deployed api function (stage prod, in Lambda)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINDME_")}
    env |= {
        "FINDME_STAGE": "prod",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": str(REPO_ROOT / "functions" / "api"),
        "AWS_LAMBDA_FUNCTION_NAME": "findme-api",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    code = (
        "import json, sys; import handler; "
        f"print(json.dumps(sorted(m for m in {LAZY!r} if m in sys.modules)))"
    )
    # When the handler module is imported (the app is built, the rate limiter made)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT / "functions" / "api",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    # Then none of the lazily loaded libraries is in memory yet
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
