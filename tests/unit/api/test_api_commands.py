"""``findme openapi`` and ``findme local otp`` (refuses outside the local stack).

``local otp`` reads only ``get_settings()``: the tests forget the settings, never the process's
wiring (``wiring.reset()`` would also drop the shared local vector indexes that the session's
local stack holds open, and a later composition root would find the Qdrant path taken).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from findme.cli import main
from findme.config import get_settings
from findme.local.outbox import record_sms


def test_openapi_prints_the_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["openapi", "--indent", "0"]) == 0
    spec = json.loads(capsys.readouterr().out)
    assert spec["info"]["title"] == "FindMe API"
    assert "/register" in spec["paths"]


def test_local_otp_prints_the_last_code_on_the_local_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two codes recorded for a phone by the local SNS notifier
    monkeypatch.setenv("FINDME_STAGE", "local")
    monkeypatch.setenv("FINDME_LOCAL_STATE_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        record_sms(tmp_path, "+14155550100", "Your FindMe code is 111111. It expires in 5 minutes.")
        record_sms(tmp_path, "+14155550100", "Your FindMe code is 222222. It expires in 5 minutes.")
        # When asked (in any spelling of the number) / Then the last code is printed
        assert main(["local", "otp", "+1 415 555 0100"]) == 0
        assert capsys.readouterr().out.strip() == "222222"
        # And a phone without a code exits 1
        assert main(["local", "otp", "+14155550199"]) == 1
    finally:
        get_settings.cache_clear()


def test_local_otp_refuses_outside_the_local_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a deployed stage, even with an outbox file around
    monkeypatch.setenv("FINDME_STAGE", "prod")
    monkeypatch.setenv("FINDME_LOCAL_STATE_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        record_sms(tmp_path, "+14155550100", "Your FindMe code is 111111.")
        # Then the command refuses (exit 2, a JSON error naming the local stack)
        assert main(["local", "otp", "+14155550100"]) == 2
        assert json.loads(capsys.readouterr().err)["error"] == "local_stack"
    finally:
        get_settings.cache_clear()
