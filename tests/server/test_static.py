"""server/static.py: the built client at /, avatar files at /avatars/, after the API routes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server.settings import FrontendSettings
from server.static import mount_frontend

LISTED = "https://shop.example"


def _app(dist: Path, avatars: Path, *, enabled: bool = True) -> TestClient:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/thing")
    async def thing() -> dict[str, str]:
        return {"thing": "api"}

    settings = FrontendSettings(enabled=enabled, dist_dir=dist, avatars_dir=avatars)
    mount_frontend(app, settings, lambda origin: origin == LISTED)
    return TestClient(app)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    folder = tmp_path / "dist"
    folder.mkdir()
    (folder / "index.html").write_text("<!doctype html><title>avatar</title>")
    (folder / "app.js").write_text("console.log('hi');")
    return folder


@pytest.fixture
def avatars(tmp_path: Path) -> Path:
    folder = tmp_path / "avatars"
    folder.mkdir()
    (folder / "ada.glb").write_bytes(b"glTF\x02\x00\x00\x00")
    (folder / "ada.vrm").write_bytes(b"glTF\x02\x00\x00\x01")
    return folder


def test_the_page_and_its_assets_are_served_beside_the_api(dist: Path, avatars: Path) -> None:
    client = _app(dist, avatars)

    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>avatar</title>" in page.text
    assert client.get("/index.html").status_code == 200
    assert client.get("/app.js").text == "console.log('hi');"
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/v1/thing").json() == {"thing": "api"}
    assert client.get("/missing.js").status_code == 404


def test_avatar_files_are_served_with_a_gltf_media_type(dist: Path, avatars: Path) -> None:
    client = _app(dist, avatars)

    for name, body in [("ada.glb", b"glTF\x02\x00\x00\x00"), ("ada.vrm", b"glTF\x02\x00\x00\x01")]:
        response = client.get(f"/avatars/{name}")
        assert response.status_code == 200
        assert response.content == body
        assert response.headers["content-type"] == "model/gltf-binary"
    assert client.get("/avatars/none.glb").status_code == 404
    assert client.get("/avatars/../dist/index.html").status_code == 404


def test_without_index_html_every_client_path_answers_503_and_the_api_still_works(
    tmp_path: Path, avatars: Path
) -> None:
    client = _app(tmp_path / "not-built", avatars)

    for path in ("/", "/app.js"):
        response = client.get(path)
        assert response.status_code == 503
        assert response.json() == {
            "error": {"code": "frontend_not_built", "message": "run make setup"}
        }
    assert client.get("/healthz").status_code == 200
    assert client.get("/avatars/ada.glb").status_code == 200


def test_a_client_built_after_start_is_served_without_a_restart(
    tmp_path: Path, avatars: Path
) -> None:
    dist = tmp_path / "dist"
    client = _app(dist, avatars)
    assert client.get("/").status_code == 503

    dist.mkdir()
    (dist / "index.html").write_text("<p>built</p>")

    assert client.get("/").text == "<p>built</p>"


def test_a_missing_avatars_folder_answers_404(dist: Path, tmp_path: Path) -> None:
    client = _app(dist, tmp_path / "no-avatars")

    assert client.get("/avatars/ada.glb").status_code == 404
    assert client.get("/").status_code == 200


def test_disabled_serves_nothing(dist: Path, avatars: Path) -> None:
    client = _app(dist, avatars, enabled=False)

    assert client.get("/").status_code == 404
    assert client.get("/avatars/ada.glb").status_code == 404


def test_listed_origins_may_read_the_files_cross_origin(dist: Path, avatars: Path) -> None:
    client = _app(dist, avatars)

    listed = client.get("/avatars/ada.glb", headers={"Origin": LISTED})
    assert listed.headers["access-control-allow-origin"] == LISTED
    assert listed.headers["vary"] == "Origin"
    other = client.get("/avatars/ada.glb", headers={"Origin": "https://evil.example"})
    assert other.status_code == 200, "public files, but the browser keeps them from that page"
    assert "access-control-allow-origin" not in other.headers
    assert client.get("/", headers={"Origin": LISTED}).headers["access-control-allow-origin"]


def test_a_websocket_to_a_client_path_is_refused(dist: Path, avatars: Path) -> None:
    client = _app(dist, avatars)

    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/somewhere"):
        pass
