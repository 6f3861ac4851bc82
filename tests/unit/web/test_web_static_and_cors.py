"""``make run`` serves the built web app at ``/`` beside an unchanged API; CORS by setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from findme.config import Settings
from findme.web.app import create_app

SECRET = "x" * 32


@pytest.fixture
def web_dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>FindMe app</title>")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    (tmp_path / "sw.js").write_text("self.addEventListener('fetch', () => {})")
    return tmp_path


def test_app_pages_files_and_api_share_one_origin(web_dist: Path) -> None:
    # Given the API with a built app
    client = TestClient(create_app(Settings(jwt_secret=SECRET, web_dir=web_dist)))
    # Then the app's pages answer index.html to a browser, never cached
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    for path in ("/", "/e/K7QX2MPR9T", "/me", "/o", "/o/events/123/persons/456"):
        response = client.get(path, headers=browser)
        assert response.status_code == 200, path
        assert "FindMe app" in response.text
        assert response.headers["cache-control"] == "no-cache"
    # And / still answers the API's name and version to an API client
    assert client.get("/", headers={"Accept": "application/json"}).json()["name"] == "FindMe API"
    assert client.get("/").json()["name"] == "FindMe API"
    # And hashed assets are cached for a year, top-level files not at all
    asset = client.get("/assets/index-abc.js")
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get("/sw.js").headers["cache-control"] == "no-cache"
    # And the API is as it was: its document, its 404s and 405s
    assert client.get("/openapi.json").json()["info"]["title"] == "FindMe API"
    assert client.get("/nope").status_code == 404
    assert client.get("/assets/missing.js").status_code == 404
    assert client.get("/create-group").status_code == 405
    assert "/e/{invite_code}" not in client.get("/openapi.json").json()["paths"]


def test_without_a_build_the_api_is_alone(tmp_path: Path) -> None:
    client = TestClient(create_app(Settings(jwt_secret=SECRET, web_dir=tmp_path)))
    assert client.get("/me", headers={"Accept": "text/html"}).status_code == 404
    assert client.get("/", headers={"Accept": "text/html"}).json()["name"] == "FindMe API"


def test_cors_only_for_the_configured_origins() -> None:
    app = "http://localhost:5173"
    client = TestClient(create_app(Settings(jwt_secret=SECRET, cors_origins=[app])))
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    # Given a preflight from the configured origin, Then it is allowed with the bearer header
    allowed = client.options("/create-group", headers={"Origin": app, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == app
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    # And answers expose the rate-limit headers to the app
    answer = client.get("/openapi.json", headers={"Origin": app})
    assert "X-RateLimit-Remaining" in answer.headers["access-control-expose-headers"]
    # Given another origin, Then no CORS header allows it
    other = client.options("/create-group", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers
    # And without the setting the API sends no CORS headers at all
    plain = TestClient(create_app(Settings(jwt_secret=SECRET)))
    assert (
        "access-control-allow-origin"
        not in plain.get("/openapi.json", headers={"Origin": app}).headers
    )


def test_cors_origins_are_validated() -> None:
    assert Settings(cors_origins="https://a.example, http://localhost:5173").cors_origins == [  # type: ignore[arg-type]
        "https://a.example",
        "http://localhost:5173",
    ]
    with pytest.raises(ValueError, match="cors_origins"):
        Settings(cors_origins=["https://a.example/path"])
