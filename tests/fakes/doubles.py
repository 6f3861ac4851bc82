"""Recording doubles of the outbound ports: the orchestrator and the SMS notifier."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from findme.services.auth import code_in_message


@dataclass
class FakeOrchestrator:
    """An orchestrator that records workflow starts (a copy of each payload) instead of
    running them."""

    started: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def start(self, workflow: str, payload: dict[str, Any]) -> str:
        self.started.append((workflow, dict(payload)))
        return f"fake:{workflow}:{len(self.started)}"


@dataclass
class FakeNotifier:
    """A notifier that keeps the SMS it is asked to send."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def send_sms(self, phone_number: str, message: str) -> None:
        self.sent.append((phone_number, message))

    def last_code(self, phone: str) -> str:
        for number, message in reversed(self.sent):
            if number == phone:
                code = code_in_message(message)
                assert code is not None
                return code
        raise AssertionError(f"no SMS to {phone}")
