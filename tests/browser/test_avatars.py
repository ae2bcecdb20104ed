"""Bring your own avatar: a persona names a GLB with Oculus visemes, a GLB with ARKit
blendshapes, or a VRM; the page loads it, detects its rig and moves its mouth with the voice. A
model that fails to load falls back to the default head with a notice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.browser.conftest import OpenPage, Shot, build_frontend
from tests.e2e.conftest import ROOT, ServerProcess, StartServer

PERSONAS = {
    "byo-visemes": ("/avatars/visemes.glb", "glb", "oculus"),
    "byo-arkit": ("/avatars/arkit.glb", "glb", "arkit"),
    "byo-vrm": ("/avatars/vrm.vrm", "vrm", "vrm"),
    "byo-missing": ("/avatars/nowhere.glb", "default", "oculus"),
}


@pytest.fixture(scope="module")
def avatar_server(
    start_server: StartServer,
    avatar_files: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> ServerProcess:
    prompts = tmp_path_factory.mktemp("prompts")
    shutil.copy(ROOT / "prompts" / "default.md", prompts / "default.md")
    for persona, (url, _, _) in PERSONAS.items():
        (prompts / f"{persona}.md").write_text(
            f"---\nname: {persona}\navatar:\n  url: {url}\n---\n"
            "You are a friendly assistant. Answer in one or two short sentences.\n"
        )
    build_frontend()
    folder = next(iter(avatar_files.values())).parent
    return start_server(
        "avatars",
        AVATAR_PROMPTS_DIR=str(prompts),
        AVATAR_FRONTEND__AVATARS_DIR=str(folder),
    )


@pytest.mark.parametrize("persona", ["byo-visemes", "byo-arkit", "byo-vrm"])
async def test_a_persona_avatar_loads_and_its_mouth_follows_the_voice(
    avatar_server: ServerProcess, open_page: OpenPage, shot: Shot, persona: str
) -> None:
    _, source, rig = PERSONAS[persona]
    async with open_page(f"{avatar_server.http}/?persona={persona}") as page:
        await page.wait_for_function(
            f"window.avatarApp?.debug().avatar?.source === '{source}'", timeout=20_000
        )
        info = await page.evaluate("window.avatarApp.debug().avatar")
        await page.get_by_test_id("text-input").fill("Say hello!")
        await page.get_by_test_id("send").click()
        await page.wait_for_function("window.avatarApp.debug().playing", timeout=30_000)
        mouths = []
        for _ in range(25):
            mouths.append(await page.evaluate("window.avatarApp.debug().mouth"))
            await page.wait_for_timeout(40)
        await shot(page, "speaking")
        await page.wait_for_function("!window.avatarApp.debug().playing", timeout=60_000)
        await page.wait_for_timeout(500)
        rest = await page.evaluate("window.avatarApp.debug().mouth")
    assert info["format"] == rig and info["error"] is None
    assert max(mouths) > 0.2, f"the {rig} mouth did not open: {mouths}"
    assert rest < 0.05


async def test_an_avatar_that_fails_to_load_falls_back_to_the_default_head(
    avatar_server: ServerProcess, open_page: OpenPage
) -> None:
    async with open_page(f"{avatar_server.http}/?persona=byo-missing") as page:
        await page.wait_for_function("window.avatarApp?.debug().avatar?.error", timeout=20_000)
        info = await page.evaluate("window.avatarApp.debug().avatar")
        notice = await page.get_by_test_id("notice").text_content()
    assert info["source"] == "default"
    assert "Avatar failed to load" in (notice or "")
