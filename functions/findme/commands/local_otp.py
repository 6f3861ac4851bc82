"""``findme local otp PHONE``: the last sign-in code sent to PHONE on the local stack.

The local SNS notifier records every SMS under ``{FINDME_LOCAL_STATE_DIR}/sms/``
(:mod:`findme.local.outbox`); nothing is recorded in AWS, and this command refuses to run
unless the local stack is running (or the stage is ``local``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from findme.config import get_settings
from findme.errors import LocalStackError


def register_local(local_subparsers: Any) -> None:
    otp = local_subparsers.add_parser("otp", help="print the last code sent to PHONE (local only)")
    otp.add_argument("phone", help="phone number, E.164 (e.g. +14155550123)")
    otp.add_argument("--state-dir", type=Path, default=None, help="local stack state directory")
    otp.set_defaults(func=_otp)


def _otp(args: argparse.Namespace) -> int:
    from findme.local.outbox import last_sms
    from findme.local.stack import read_state, running_pids
    from findme.services.auth import code_in_message, normalize_phone

    settings = get_settings()
    state_dir = Path(args.state_dir or settings.local_state_dir).resolve()
    state = read_state(state_dir)
    on_stack = state is not None and bool(running_pids(state))
    if settings.stage in ("dev", "prod") or not (on_stack or settings.stage == "local"):
        raise LocalStackError(
            "findme local otp only works on the local stack (start it with make run)"
        )
    phone = normalize_phone(args.phone)
    sms = last_sms(state_dir, phone)
    code = code_in_message(sms.message) if sms else None
    if code is None:
        print(f"no code was sent to {phone} on this local stack", file=sys.stderr)
        return 1
    print(code)
    return 0
