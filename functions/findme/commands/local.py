"""``findme local up|down|status``: the local stack (moto server + DynamoDB Local + Qdrant).

Other modules add ``findme local ...`` sub-commands without editing this file: each module
named in :data:`LOCAL_SUBCOMMAND_MODULES` that exists exposes
``register_local(local_subparsers) -> None`` (e.g. ``findme local run``, ``findme local otp``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from pathlib import Path
from typing import Any

from findme.config import get_settings
from findme.local.stack import (
    DEFAULT_PORTS,
    ENV_FILE,
    read_state,
    reset_state,
    running_pids,
    start_stack,
    stop_state,
)

#: Modules adding ``findme local`` sub-commands via ``register_local(subparsers)``.
LOCAL_SUBCOMMAND_MODULES: tuple[str, ...] = (
    "findme.commands.local_run",
    "findme.commands.local_otp",
    "findme.commands.local_fuzz",
)


def register(subparsers: Any) -> None:
    local = subparsers.add_parser("local", help="the local stack (no AWS account needed)")
    local_sub = local.add_subparsers(dest="local_command", required=True)

    up = local_sub.add_parser(
        "up", help="start moto server + DynamoDB Local on 127.0.0.1 and create the resources"
    )
    up.add_argument("--moto-port", type=int, default=DEFAULT_PORTS["moto"])
    up.add_argument("--dynamodb-port", type=int, default=DEFAULT_PORTS["dynamodb"])
    up.add_argument("--json", action="store_true", help="print the endpoints as JSON")
    _state_dir_argument(up)
    up.set_defaults(func=_up)

    down = local_sub.add_parser("down", help="stop the local stack started by 'local up'")
    _state_dir_argument(down)
    down.set_defaults(func=_down)

    reset = local_sub.add_parser(
        "reset", help="delete the local stack's data (users, groups, photos, queues, vectors)"
    )
    _state_dir_argument(reset)
    reset.set_defaults(func=_reset)

    status = local_sub.add_parser("status", help="is the local stack running? its endpoints")
    status.add_argument("--json", action="store_true")
    _state_dir_argument(status)
    status.set_defaults(func=_status)

    for name in LOCAL_SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # not built yet
                continue
            raise
        module.register_local(local_sub)


def _state_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where stack.json, stack.env and logs live (default: FINDME_LOCAL_STATE_DIR, .local)",
    )


def _state_dir(args: argparse.Namespace) -> Path:
    return Path(args.state_dir or get_settings().local_state_dir).resolve()


def _up(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args)
    started = time.monotonic()
    handle = start_stack(
        state_dir,
        {"moto": args.moto_port, "dynamodb": args.dynamodb_port},
        qdrant_path=str(state_dir / "qdrant"),
        detach=True,
        write_state=True,
    )
    elapsed = time.monotonic() - started
    if args.json:
        print(json.dumps({"endpoints": handle.endpoints, "pids": handle.pids, "start_s": elapsed}))
        return 0
    print(f"local stack up in {elapsed:.1f} s (127.0.0.1 only)")
    for name, url in handle.endpoints.items():
        print(f"  {name:<15} {url}")
    print(f"env for other shells: set -a; . {state_dir / ENV_FILE}; set +a")
    print("stop with: findme local down")
    return 0


def _down(args: argparse.Namespace) -> int:
    stopped = stop_state(_state_dir(args))
    print(f"stopped: {', '.join(stopped)}" if stopped else "the local stack was not running")
    return 0


def _reset(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args)
    removed = reset_state(state_dir)
    print(f"removed: {', '.join(removed)}" if removed else f"nothing to remove in {state_dir}")
    return 0


def _status(args: argparse.Namespace) -> int:
    state = read_state(_state_dir(args))
    alive = running_pids(state) if state else {}
    if args.json:
        print(json.dumps({"running": bool(alive), "pids": alive, **(state or {})}))
    elif alive:
        print("local stack running")
        for name, url in dict((state or {}).get("endpoints", {})).items():
            print(f"  {name:<15} {url}")
    else:
        print("local stack not running")
    return 0 if alive else 1
