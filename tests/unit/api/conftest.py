"""Fixtures for the API unit tests (helpers and fakes live in ``api_fakes``)."""

from __future__ import annotations

from api_fakes import api, stores

__all__ = ["api", "stores"]
