"""The local moto server resolves each host's service once (the ZIP's throughput on the local
stack was capped by moto resolving it per request, under one lock)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from findme.local.moto_server import cached_dispatcher


def test_the_service_of_a_host_is_resolved_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    # Given moto's own lookup, counted
    resolved: list[str | None] = []
    original = DomainDispatcherApplication.get_backend_for_host

    def counted(self: Any, host: str | None) -> Any:
        resolved.append(host)
        return original(self, host)

    monkeypatch.setattr(DomainDispatcherApplication, "get_backend_for_host", counted)
    app = cast(Any, cached_dispatcher(create_backend_app))
    # When two requests name the same host and one names another
    hosts = ["s3.us-east-1.amazonaws.com", "s3.us-east-1.amazonaws.com", "127.0.0.1:5000"]
    backends = [app.get_backend_for_host(host) for host in hosts]
    # Then the answers are moto's, and each host was resolved by moto once
    assert backends[:2] == ["s3", "s3"]
    assert backends[2] == original(app, "127.0.0.1:5000")
    assert resolved == ["s3.us-east-1.amazonaws.com", "127.0.0.1:5000"]
