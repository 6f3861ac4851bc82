"""Where the running local stack's environment variables are kept for the test hooks.

``local_stack`` (tests/integration/conftest.py) stores them in ``config.stash[STACK_ENV]``;
tests/conftest.py puts them back around every test that uses the stack.
"""

from __future__ import annotations

import pytest

STACK_ENV = pytest.StashKey[dict[str, str]]()
