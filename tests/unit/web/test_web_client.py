"""The web app's typed API client is generated from the API: stale files fail the build.

``make web-api`` writes ``web/openapi.json`` (``findme openapi``) and ``web/src/api/schema.d.ts``
(openapi-typescript); both are committed so that ``npm run build`` type-checks the app
against the API as it is. A route or schema changed without regenerating them fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from findme.config import REPO_ROOT, Settings
from findme.web.app import create_app

WEB = REPO_ROOT / "web"
GENERATOR = WEB / "node_modules" / "openapi-typescript" / "bin" / "cli.js"


def test_committed_openapi_document_is_the_apis() -> None:
    # Given the API as built today, When its OpenAPI document is compared with the committed one
    live = create_app(Settings(jwt_secret="x" * 32)).openapi()
    committed = json.loads((WEB / "openapi.json").read_text())
    # Then they are equal (else: make web-api, and commit web/openapi.json + schema.d.ts)
    assert committed == live, "web/openapi.json is stale: run `make web-api`"


def test_committed_typescript_client_types_match_the_document(tmp_path: Path) -> None:
    # Given openapi-typescript from the web app's lock (installed by `make web`)
    node = shutil.which("node")
    if node is None or not GENERATOR.exists():
        if os.environ.get("CI"):
            pytest.fail("node or web/node_modules missing: `make test` runs `make web` first")
        pytest.skip("run `make web` to install openapi-typescript")
    # When the types are generated again from the committed document
    out = tmp_path / "schema.d.ts"
    subprocess.run(
        [node, str(GENERATOR), str(WEB / "openapi.json"), "-o", str(out)],
        check=True,
        capture_output=True,
        cwd=WEB,
        timeout=120,
    )
    # Then they are the committed ones
    committed = (WEB / "src" / "api" / "schema.d.ts").read_text()
    assert out.read_text() == committed, "web/src/api/schema.d.ts is stale: run `make web-api`"
