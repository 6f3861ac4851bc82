"""The real FastAPI app over a :class:`~fakes.world.World`, with the fakes for the rest.

The face engine, the orchestrator and the SMS notifier are fakes (no models, no threads, no
network), so routes run exactly as in production minus the ONNX inference. :class:`Api`
signs users up through the routes; :class:`RouteClient` issues tokens for users seeded in
the world.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import FastAPI
from fastapi.testclient import TestClient
from findme.config import Settings
from findme.domain.records import User
from findme.services.auth import TokenService
from findme.web import deps
from findme.web.app import create_app
from numpy.typing import NDArray

from fakes.doubles import FakeNotifier, FakeOrchestrator
from fakes.engines import FakeEngine
from fakes.faces import detected, jpeg, new_phone
from fakes.world import World

if TYPE_CHECKING:
    from findme.ports import RateLimiter

SECRET = "unit-test-secret-0123456789abcdef-0123456789"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "stage": "test",
        "bucket": "api-unit",
        "aws_region": "us-east-1",
        "table_prefix": "api-",
        "qdrant_path": ":memory:",
        "jwt_secret": SECRET,
        "rate_limit_per_minute": 10_000,
        "admin_phones": ["+14150000001"],
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Api:
    """A test client over a fresh app, plus the fakes and stores behind it."""

    client: TestClient
    stores: World
    engine: FakeEngine
    orchestrator: FakeOrchestrator
    sms: FakeNotifier
    settings: Settings

    def register(
        self,
        name: str = "Ada",
        phone: str | None = None,
        embedding: NDArray[np.float32] | None = None,
    ) -> tuple[str, str, NDArray[np.float32]]:
        """Register a user with a one-face selfie -> ``(user_id, token, reference embedding)``."""
        phone = phone or new_phone()
        vector = embedding if embedding is not None else self.stores.identity()
        selfie = self.engine.register(jpeg(seed=int(phone[-6:])), [detected(vector)])
        assert self.client.post("/auth/otp", json={"phone_number": phone}).status_code == 200
        response = self.client.post(
            "/register",
            data={"name": name, "phone_number": phone, "otp": self.sms.last_code(phone)},
            files={"selfie": ("me.jpg", selfie, "image/jpeg")},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return body["user_id"], body["access_token"], vector

    @property
    def app(self) -> FastAPI:
        """The app under test (its ``dependency_overrides``, ``state``)."""
        app = self.client.app
        assert isinstance(app, FastAPI)
        return app

    def client_at(self, address: str) -> TestClient:
        """A client of the same app whose requests come from ``address`` (the TCP peer)."""
        return TestClient(self.app, raise_server_exceptions=False, client=(address, 50000))

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def group(self, token: str, name: str = "Gala") -> dict[str, Any]:
        response = self.client.post(
            "/create-group", json={"group_name": name, "description": ""}, headers=self.auth(token)
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def join(self, token: str, group: dict[str, Any]) -> None:
        response = self.client.post(
            f"/groups/{group['group_id']}/join",
            json={"invite_code": group["invite_code"]},
            headers=self.auth(token),
        )
        assert response.status_code == 200, response.text


def build_api(stores: World, *, rate_limiter: RateLimiter | None = None, **overrides: Any) -> Api:
    """A fresh app over ``stores``; ``rate_limiter`` replaces its in-memory counters (a fake
    clock, or the DynamoDB counters of another "Lambda instance"); ``overrides`` are settings."""
    settings = make_settings(**overrides)
    engine, orchestrator, sms = FakeEngine(), FakeOrchestrator(), FakeNotifier()
    app = create_app(settings, rate_limiter=rate_limiter)
    app.dependency_overrides[deps.metadata_store] = lambda: stores.metadata
    app.dependency_overrides[deps.object_store] = lambda: stores.objects
    app.dependency_overrides[deps.vector_index] = lambda: stores.vectors
    app.dependency_overrides[deps.face_engine] = lambda: engine
    app.dependency_overrides[deps.orchestrator] = lambda: orchestrator
    app.dependency_overrides[deps.notifier] = lambda: sms
    client = TestClient(app, raise_server_exceptions=False)
    return Api(client, stores, engine, orchestrator, sms, settings)


class RouteClient:
    """The real app (auth, error shape, limits) over the world's stores, for users seeded
    in the world: ``auth(user)`` is a bearer token of theirs; jobs are recorded (``jobs``)."""

    def __init__(self, world: World) -> None:
        api = build_api(world, bucket=world.settings.bucket, rate_limit_per_minute=1000)
        self.settings = api.settings
        self.jobs = api.orchestrator
        self.http = TestClient(api.app)  # a server error raises in the test
        self.tokens = TokenService(self.settings, SECRET)

    def auth(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.issue(user).access_token}"}
