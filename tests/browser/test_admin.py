"""The admin page (/admin.html) in a real browser against a real server: signing in, editing a
persona with a mistake that validation points at by line, saving with a message, the history
with its author and diff, previewing replies with the real embedded model, rolling back, and a
save that lost a race with someone else's.

The server edits a temporary copy of prompts/ (``AVATAR_PROMPTS_DIR``), so the repository's
files are never touched; its history lands in that copy's ``.history/``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import FRONTEND, OpenPage, Shot, build_frontend
from tests.e2e.conftest import ROOT, ServerProcess, StartServer

TOKENS = {"alice": "alice-admin-token-0123456789", "bob": "bob-admin-token-0123456789"}
TOKEN_KEY = "avatar-admin-token"  # frontend/src/admin/app.js
PREVIEW_TIMEOUT_MS = 60_000
BAD_LINE = "turn_taking: {silence_ms: 5}"
GOOD_LINE = "turn_taking: {silence_ms: 700}"


def version_of(text: str) -> str:
    """A persona's version: the first 12 hex digits of the SHA-256 of the file's bytes."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def build_admin_page() -> None:
    """The client, admin page included (setup-frontend.sh does not watch admin.html)."""
    build_frontend()
    page, built = FRONTEND / "admin.html", FRONTEND / "dist" / "admin.html"
    if not built.is_file() or built.stat().st_mtime < page.stat().st_mtime:
        done = subprocess.run(
            ["node", "build.mjs", "--quiet"], cwd=FRONTEND, capture_output=True, text=True
        )
        if done.returncode != 0:
            pytest.fail(f"frontend build failed:\n{done.stdout}\n{done.stderr}", pytrace=False)


@pytest.fixture(scope="module")
def prompts_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("admin") / "prompts"
    shutil.copytree(ROOT / "prompts", folder, ignore=shutil.ignore_patterns(".history"))
    return folder


@pytest.fixture(scope="module")
def admin_server(
    start_server: StartServer, prompts_copy: Path, tmp_path_factory: pytest.TempPathFactory
) -> ServerProcess:
    build_admin_page()
    return start_server(
        "admin",
        AVATAR_ADMIN__TOKENS=json.dumps(TOKENS),
        AVATAR_PROMPTS_DIR=str(prompts_copy),
        AVATAR_KNOWLEDGE__ENABLED="true",  # for the passages in the acme-support preview
        AVATAR_KNOWLEDGE__INDEX_DIR=str(tmp_path_factory.mktemp("admin-index")),
    )


def admin_server_prompts(server: ServerProcess) -> Path:
    """The temporary prompts folder this server edits."""
    return Path(server.env["AVATAR_PROMPTS_DIR"])


async def sign_in(page: Any, token: str = TOKENS["alice"]) -> None:
    await page.get_by_test_id("token-input").fill(token)
    await page.get_by_test_id("sign-in").click()
    await expect(page.get_by_test_id("persona-item").first).to_be_visible()


async def open_persona(page: Any, persona_id: str) -> None:
    await page.locator(f"[data-testid=persona-item][data-id='{persona_id}']").click()
    await expect(page.get_by_test_id("doc-id")).to_have_text(persona_id)


async def test_a_wrong_token_is_refused_and_a_good_one_is_kept_for_the_tab_only(
    admin_server: ServerProcess, open_page: OpenPage, shot: Shot
) -> None:
    async with open_page(f"{admin_server.http}/admin.html") as page:
        await expect(page.get_by_test_id("token-input")).to_be_focused()
        await page.get_by_test_id("token-input").fill("not-the-right-token-42")
        await page.get_by_test_id("sign-in").click()
        await expect(page.get_by_test_id("sign-in-error")).to_contain_text("not valid")
        await expect(page.get_by_test_id("workspace")).to_be_hidden()
        assert await page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None
        await shot(page, "wrong-token")

        await sign_in(page)
        await expect(page.get_by_test_id("sign-in-error")).to_have_text("")
        ids = await page.get_by_test_id("persona-item").evaluate_all(
            "(items) => items.map((b) => b.dataset.id)"
        )
        assert {"default", "acme-support"} <= set(ids)
        # The default persona opens first, with the file's text and version.
        source = (admin_server_prompts(admin_server) / "default.md").read_text()
        await expect(page.get_by_test_id("editor")).to_have_value(source)
        await expect(page.get_by_test_id("doc-version")).to_have_text(f"v {version_of(source)}")
        await expect(page.get_by_test_id("knowledge")).to_contain_text("acme")

        # The preview and history tabs switch with the arrow keys.
        await page.get_by_test_id("tab-preview").focus()
        await page.keyboard.press("ArrowRight")
        await expect(page.get_by_test_id("tab-history")).to_be_focused()
        await expect(page.get_by_test_id("tab-history")).to_have_attribute("aria-selected", "true")
        await expect(page.get_by_test_id("history-list")).to_be_visible()
        await expect(page.get_by_test_id("preview-log")).to_be_hidden()

        # A reload stays signed in (sessionStorage); signing out forgets the token.
        await page.reload()
        await expect(page.get_by_test_id("workspace")).to_be_visible()
        await page.get_by_test_id("sign-out").click()
        await expect(page.get_by_test_id("sign-in-view")).to_be_visible()
        assert await page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None


async def test_edit_validate_save_history_preview_and_roll_back(
    admin_server: ServerProcess, open_page: OpenPage, shot: Shot
) -> None:
    path = admin_server_prompts(admin_server) / "default.md"
    original = path.read_text()
    lines = original.split("\n")
    bad_line_no = 3  # after "---" and "name: ..."
    assert lines[1].startswith("name:")
    bad = "\n".join([*lines[:2], BAD_LINE, *lines[2:]])
    good = bad.replace(BAD_LINE, GOOD_LINE)
    previews: list[dict[str, Any]] = []

    # /admin works as well as /admin.html.
    async with open_page(f"{admin_server.http}/admin") as page:
        page.on(
            "request",
            lambda r: previews.append(r.post_data_json) if r.url.endswith("/preview") else None,
        )
        assert page.url.rstrip("/").endswith("/admin")
        await sign_in(page)
        editor = page.get_by_test_id("editor")
        await expect(editor).to_have_value(original)
        await expect(page.get_by_test_id("dirty")).to_be_hidden()

        # A mistake: validation names the field and its line; the gutter marks the line, and
        # clicking the problem puts the caret there.
        await editor.fill(bad)
        await expect(page.get_by_test_id("dirty")).to_be_visible()
        await page.get_by_test_id("validate").click()
        problem = page.get_by_test_id("problem").first
        await expect(problem).to_contain_text("silence_ms")
        await expect(problem).to_have_attribute("data-line", str(bad_line_no))
        await expect(page.get_by_test_id("checked")).to_contain_text("1 problem")
        gutter_row = page.locator(f"[data-testid=gutter] .adm-ln:nth-child({bad_line_no})")
        await expect(gutter_row).to_have_class(re.compile(r"\badm-bad\b"))
        await editor.press("Control+End")
        await problem.click()
        await expect(editor).to_be_focused()
        await expect(editor).to_have_attribute("data-caret-line", str(bad_line_no))
        caret = await editor.evaluate("(t) => t.selectionStart")
        assert caret == len("\n".join(lines[:2])) + 1
        await shot(page, "problem")

        # Saving the broken text is refused with the same problem, and nothing is written.
        await page.get_by_test_id("change-message").fill("try the broken one")
        await page.get_by_test_id("save").click()
        await expect(page.get_by_test_id("status")).to_contain_text("Not saved")
        assert path.read_text() == original

        # Fixed, validated, and saved with Ctrl+S; Save first asks for a message.
        await editor.fill(good)
        await page.get_by_test_id("change-message").fill("")
        await page.get_by_test_id("save").click()
        await expect(page.get_by_test_id("status")).to_contain_text("change message")
        await expect(page.get_by_test_id("change-message")).to_be_focused()
        await page.get_by_test_id("validate").click()
        await expect(page.get_by_test_id("checked")).to_have_text("✓ Valid")
        await expect(page.get_by_test_id("problems")).to_be_hidden()
        await page.get_by_test_id("change-message").fill("Wait a little longer before answering")
        await page.keyboard.press("Control+s")
        await expect(page.get_by_test_id("status")).to_contain_text("Saved version")
        await expect(page.get_by_test_id("doc-version")).to_have_text(f"v {version_of(good)}")
        await expect(page.get_by_test_id("dirty")).to_be_hidden()
        await expect(page.get_by_test_id("change-message")).to_have_value("")
        assert path.read_text() == good

        # The history: newest first, by alice, with the coloured diff.
        await page.get_by_test_id("tab-history").click()
        change = page.get_by_test_id("change").first
        await expect(change.get_by_test_id("change-who")).to_have_text("alice")
        await expect(change.get_by_test_id("change-text")).to_have_text(
            "Wait a little longer before answering"
        )
        await change.locator("summary").click()
        added = change.locator("[data-testid=diff] [data-kind=add]")
        await expect(added).to_have_text([f"+{GOOD_LINE}"])
        await expect(change.locator("[data-testid=diff] [data-kind=del]")).to_have_count(0)
        await shot(page, "history")

        # A two-turn preview: the second request carries the first exchange; reset clears it.
        await page.get_by_test_id("tab-preview").click()
        replies = page.get_by_test_id("preview-reply")
        for n, question in enumerate(("Hello! Who are you?", "What did I just ask you?"), 1):
            await page.get_by_test_id("preview-input").fill(question)
            await page.get_by_test_id("preview-input").press("Enter")
            await expect(replies).to_have_count(n, timeout=PREVIEW_TIMEOUT_MS)
        await expect(page.get_by_test_id("preview-error")).to_have_count(0)
        for text in await page.get_by_test_id("preview-text").all_text_contents():
            assert text.strip()
        await expect(replies.last.get_by_test_id("preview-timing")).to_contain_text("total")
        await replies.last.get_by_test_id("preview-prompt").locator("summary").click()
        await expect(replies.last.locator("pre")).to_contain_text("You are Ada")
        questions = ["Hello! Who are you?", "What did I just ask you?"]
        assert [p["message"] for p in previews] == questions
        assert all(p["source"] == good for p in previews)
        assert previews[0]["history"] == []
        assert [t["role"] for t in previews[1]["history"]] == ["user", "assistant"]
        assert previews[1]["history"][0]["text"] == "Hello! Who are you?"
        await shot(page, "preview")
        await page.get_by_test_id("preview-reset").click()
        await expect(replies).to_have_count(0)

        # Roll back to the version first recorded (the file as it was), after a confirmation.
        await page.get_by_test_id("tab-history").click()
        first = page.locator(f"[data-testid=change][data-version='{version_of(original)}']").last
        await first.locator("summary").click()
        await first.get_by_test_id("rollback").click()
        dialog = page.get_by_test_id("dialog")
        await expect(dialog).to_be_visible()
        await expect(dialog).to_contain_text(version_of(original))
        await shot(page, "confirm-rollback")
        await dialog.get_by_test_id("dialog-confirm").click()
        await expect(page.get_by_test_id("status")).to_contain_text("Rolled back")
        await expect(editor).to_have_value(original)
        await expect(page.get_by_test_id("doc-version")).to_have_text(f"v {version_of(original)}")
        assert path.read_text() == original
        newest = page.get_by_test_id("change").first
        await expect(newest.get_by_test_id("change-who")).to_have_text("alice")
        await expect(newest.get_by_test_id("change-text")).to_contain_text("Roll back")
        await shot(page, "rolled-back")


async def test_a_save_that_lost_a_race_explains_and_reloads_their_version(
    admin_server: ServerProcess, open_page: OpenPage, shot: Shot
) -> None:
    path = admin_server_prompts(admin_server) / "acme-support.md"
    async with open_page(f"{admin_server.http}/admin.html?persona=acme-support") as page:
        await sign_in(page)
        await expect(page.get_by_test_id("doc-id")).to_have_text("acme-support")
        editor = page.get_by_test_id("editor")
        start = await editor.input_value()
        await editor.fill(start + "\nMention the Dusty Dock when it helps.\n")

        # Meanwhile bob saves another version through the API.
        theirs = start + "\nAlways greet the caller by name if they give it.\n"
        async with httpx.AsyncClient(base_url=admin_server.http) as http:
            answer = await http.put(
                "/v1/admin/personas/acme-support",
                headers={"authorization": f"Bearer {TOKENS['bob']}"},
                json={"source": theirs, "expected_version": version_of(start), "message": "bob"},
            )
        assert answer.status_code == 200, answer.text

        await page.get_by_test_id("change-message").fill("Mention the dock")
        await page.get_by_test_id("save").click()
        conflict = page.get_by_test_id("conflict")
        await expect(conflict).to_contain_text("Someone else saved")
        await expect(page.get_by_test_id("dirty")).to_be_visible()
        assert path.read_text() == theirs
        await shot(page, "conflict")

        # Opening another persona with unsaved edits asks first; Cancel keeps them.
        await page.locator("[data-testid=persona-item][data-id='default']").click()
        await expect(page.get_by_test_id("dialog")).to_be_visible()
        await page.get_by_test_id("dialog-cancel").click()
        await expect(page.get_by_test_id("doc-id")).to_have_text("acme-support")
        await expect(page.get_by_test_id("dirty")).to_be_visible()

        await conflict.get_by_test_id("reload").click()
        await expect(editor).to_have_value(theirs)
        await expect(page.get_by_test_id("doc-version")).to_have_text(f"v {version_of(theirs)}")
        await expect(conflict).to_be_hidden()
        await expect(page.get_by_test_id("dirty")).to_be_hidden()


async def test_a_knowledge_persona_preview_shows_retrieved_passages(
    admin_server: ServerProcess, open_page: OpenPage, shot: Shot
) -> None:
    async with open_page(f"{admin_server.http}/admin.html") as page:
        await sign_in(page)
        await open_persona(page, "acme-support")
        await expect(page.get_by_test_id("knowledge")).to_contain_text("chunks", timeout=60_000)
        await page.get_by_test_id("preview-input").fill("Do you ship to Canada?")
        await page.get_by_test_id("preview-send").click()
        reply = page.get_by_test_id("preview-reply").last
        await expect(reply.get_by_test_id("preview-text")).not_to_be_empty(
            timeout=PREVIEW_TIMEOUT_MS
        )
        passages = reply.get_by_test_id("preview-passages")
        await expect(passages).to_contain_text("Retrieved passages")
        await expect(passages.locator("meter").first).to_be_visible()
        await shot(page, "knowledge-preview")

        # The overview in docs/admin.md: a mistake marked in the editor next to the preview.
        editor = page.get_by_test_id("editor")
        source = await editor.input_value()
        line = source.split("\n").index("  min_similarity: 0.3") + 1
        await editor.fill(source.replace("min_similarity: 0.3", "min_similarity: 1.5"))
        await page.get_by_test_id("validate").click()
        problem = page.get_by_test_id("problem")
        await expect(problem).to_have_attribute("data-line", str(line))
        await expect(problem).to_contain_text("knowledge.min_similarity")
        await problem.click()
        await shot(page, "overview")
