"""Fixtures for the API unit tests: one world per test module, a fresh app per test.

Fakes and helpers live in tests/fakes (``fakes``). Each test gets a fresh app (fresh rate
limiter) over the module's stores; tests isolate by fresh ids (phones, groups).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes import Api, World, build_api, make_settings, moto_world


@pytest.fixture(scope="module")
def stores() -> Iterator[World]:
    with moto_world(make_settings(), seed=11) as world:
        yield world


@pytest.fixture
def api(stores: World) -> Api:
    return build_api(stores)
