"""Unit-tier fixtures for the curation services (fakes and helpers: tests/fakes).

One moto + Qdrant :memory: world per test module; tests isolate by ids. Module scope, not
package scope: this directory is no Python package, and pytest gives a ``scope="package"``
fixture outside one the whole session, which kept this world's ``mock_aws`` open around every
later test of the run (tests/conftest.py now refuses such fixtures).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes import World, moto_world
from findme.config import Settings


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    settings = Settings(
        bucket="curation-test", aws_region="us-east-1", table_prefix="cur-", qdrant_path=":memory:"
    )
    with moto_world(settings) as world:
        yield world
