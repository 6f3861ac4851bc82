"""The local stack's SMS outbox: the last message sent to each phone number, as files.

:class:`findme.adapters.sns.SnsNotifier` writes here on stage ``local`` so another process
(``findme local otp PHONE``, a test) can read the last OTP without a real phone. One JSON file
per phone number under ``{state_dir}/sms/``, replaced atomically (write, then rename).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from findme.ports import Notifier

_UNSAFE = re.compile(r"[^0-9A-Za-z+_-]")


@dataclass(frozen=True, slots=True)
class SentSms:
    phone_number: str
    message: str
    sent_at: datetime


def _path(state_dir: Path, phone_number: str) -> Path:
    return state_dir / "sms" / f"{_UNSAFE.sub('_', phone_number)}.json"


def record_sms(state_dir: Path, phone_number: str, message: str) -> None:
    """Remember ``message`` as the last SMS to ``phone_number`` (atomic replace)."""
    path = _path(state_dir, phone_number)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "phone_number": phone_number,
        "message": message,
        "sent_at": datetime.now(UTC).isoformat(),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sms-")
    with os.fdopen(fd, "w") as fh:
        json.dump(body, fh)
    os.replace(tmp, path)


def last_sms(state_dir: Path, phone_number: str) -> SentSms | None:
    """The last SMS recorded for ``phone_number``, or ``None``."""
    path = _path(state_dir, phone_number)
    try:
        body = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return SentSms(body["phone_number"], body["message"], datetime.fromisoformat(body["sent_at"]))


class RecordingNotifier:
    """A :class:`~findme.ports.Notifier` that sends through ``inner`` (moto's SNS locally),
    then records the message as the phone's last SMS under ``state_dir``."""

    def __init__(self, inner: Notifier, state_dir: Path) -> None:
        self.inner = inner
        self.state_dir = state_dir

    def send_sms(self, phone_number: str, message: str) -> None:
        """Send, then record (a message SNS refused is not recorded)."""
        self.inner.send_sms(phone_number, message)
        record_sms(self.state_dir, phone_number, message)
