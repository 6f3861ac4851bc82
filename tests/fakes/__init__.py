"""The one set of fakes every test package shares (imported as ``fakes``: tests/ is on
``sys.path`` through its conftest).

- :mod:`fakes.faces`: synthetic embeddings and face records, detected faces, tiny JPEGs,
  fresh phone numbers;
- :mod:`fakes.engines`: :class:`FakeEngine`, the face engine without models;
- :mod:`fakes.doubles`: :class:`FakeOrchestrator` and :class:`FakeNotifier`, which record;
- :mod:`fakes.memory`: :class:`MemorySignUp`, the sign-up stores in memory;
- :mod:`fakes.world`: :func:`moto_world` and :class:`World`, the real adapters on moto and
  Qdrant ``:memory:`` with seed helpers;
- :mod:`fakes.app`: :class:`Api` and :class:`RouteClient`, the real app over a world.

Per-package fixtures (conftest.py) only choose settings and scopes.
"""

from fakes.app import SECRET, Api, RouteClient, build_api, make_settings
from fakes.doubles import FakeNotifier, FakeOrchestrator
from fakes.engines import FakeEngine
from fakes.faces import DIM, Embeddings, blob, detected, fake_face, jpeg, new_phone, photo, unit
from fakes.memory import MemorySignUp
from fakes.world import World, moto_world

__all__ = [
    "DIM",
    "SECRET",
    "Api",
    "Embeddings",
    "FakeEngine",
    "FakeNotifier",
    "FakeOrchestrator",
    "MemorySignUp",
    "RouteClient",
    "World",
    "blob",
    "build_api",
    "detected",
    "fake_face",
    "jpeg",
    "make_settings",
    "moto_world",
    "new_phone",
    "photo",
    "unit",
]
