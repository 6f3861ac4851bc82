"""``findme local fuzz`` (``make fuzz``): schemathesis over the whole API on a fresh local run.

Starts ``findme local run`` (local stack, workers, API) on a free port with its own state
directory, builds the fuzzing world through the API (:func:`findme.local.fuzz.build_world`),
runs schemathesis with the organiser's and the member's tokens
(:func:`findme.local.fuzz.run_fuzz`), stops the server and prints a JSON summary. Exit code
0 only with no server error, no schema violation and no schemathesis error.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: faces-dev photos used for the world (three different people, and a photo with faces).
ORGANISER_SELFIE = "img3.jpg"
MEMBER_SELFIE = "img1.jpg"
ADMIN_SELFIE = "img4.jpg"
PHOTO = "couple.jpg"
#: The fuzzing server's admin (``FINDME_ADMIN_PHONES``), so admin routes are reached too.
ADMIN_PHONE = "+15550000001"
START_TIMEOUT_S = 300.0


def register_local(local_subparsers: Any) -> None:
    fuzz = local_subparsers.add_parser(
        "fuzz", help="schemathesis over the whole OpenAPI document against a fresh local run"
    )
    fuzz.add_argument(
        "--max-examples", type=int, default=20, help="test cases per operation and phase"
    )
    fuzz.add_argument(
        "--phases",
        default="examples,coverage,fuzzing,stateful",
        help="schemathesis phases (comma-separated)",
    )
    fuzz.add_argument("--seed", type=int, default=None, help="seed for a reproducible run")
    fuzz.add_argument(
        "--workers",
        type=int,
        default=1,
        help="concurrent schemathesis workers (more than 1 trips CPython 3.11.7's ast.parse "
        "in threads: SystemError AST constructor recursion depth mismatch)",
    )
    fuzz.add_argument(
        "--photos",
        type=Path,
        default=Path("../shared/data/faces-dev/images"),
        help=f"folder with {ORGANISER_SELFIE}, {MEMBER_SELFIE}, {ADMIN_SELFIE} and {PHOTO}",
    )
    fuzz.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="reports, logs and the server's state (default: a new temporary directory)",
    )
    fuzz.set_defaults(func=_fuzz)


def _wait_healthy(base_url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"findme local run exited with {proc.returncode}")
        try:
            if httpx.get(f"{base_url}/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise TimeoutError("the API did not become healthy")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C the server (it stops its stack), then terminate it if it lingers."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(timeout=30)


# Long on purpose: one CLI command: start a stack, fuzz, stop it, print the summary, in order,
# under one try/finally.
def _fuzz(args: argparse.Namespace) -> int:
    import httpx

    from findme.local.fuzz import build_world, run_fuzz
    from findme.local.outbox import last_sms
    from findme.local.stack import free_port
    from findme.services.auth import code_in_message

    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="findme-fuzz-"))).resolve()
    state_dir = workdir / "state"
    state_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    # Fuzzing sends hundreds of requests a minute per route: only the routes' own limits
    # (OTP, sign-in) stay, so their 429s are exercised without starving the rest.
    env = {
        **os.environ,
        "FINDME_RATE_LIMIT_PER_MINUTE": "1000000",
        "FINDME_ADMIN_PHONES": json.dumps([ADMIN_PHONE]),
    }
    command = [
        sys.executable,
        "-m",
        "findme.cli",
        "local",
        "run",
        "--port",
        str(port),
        "--state-dir",
        str(state_dir),
    ]
    started = time.monotonic()
    with (workdir / "server.log").open("w") as server_log:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, stdout=server_log, stderr=subprocess.STDOUT, env=env
        )
        try:
            _wait_healthy(base_url, proc, START_TIMEOUT_S)

            def otp_for(phone: str) -> str:
                sms = last_sms(state_dir, phone)
                code = code_in_message(sms.message) if sms else None
                if code is None:
                    raise RuntimeError(f"no code was sent to {phone}")
                return code

            photos = args.photos.resolve()
            with httpx.Client(base_url=base_url, timeout=120) as http:
                world = build_world(
                    http,
                    otp_for,
                    organiser_selfie=photos / ORGANISER_SELFIE,
                    member_selfie=photos / MEMBER_SELFIE,
                    photo=photos / PHOTO,
                    admin=(ADMIN_PHONE, photos / ADMIN_SELFIE),
                )
            world_s = time.monotonic() - started
            summary = run_fuzz(
                base_url,
                world,
                workdir,
                max_examples=args.max_examples,
                phases=[p.strip() for p in args.phases.split(",") if p.strip()],
                seed=args.seed,
                workers=args.workers,
                log=lambda line: print(line, file=sys.stderr, flush=True),
            )
            summary.world_seconds = round(world_s, 1)
        finally:
            _stop(proc)
    out = summary.as_dict() | {"workdir": str(workdir), "clean": summary.clean}
    print(json.dumps(out, indent=2))
    return 0 if summary.clean else 1
