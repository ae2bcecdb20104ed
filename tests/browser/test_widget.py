"""The embeddable widget on a customer's page: one script tag, a launcher bubble, a shadow-DOM
panel that exchanges the publishable key for a token and talks; refused on an unlisted origin."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import OpenPage, Shot, StaticSite
from tests.e2e.conftest import ServerProcess

WIDGET = "document.querySelector('avatar-agent-widget')"
APP = f"{WIDGET}.app"


async def open_widget(page: Any) -> None:
    await page.wait_for_function("() => customElements.get('avatar-agent-widget')")
    # Playwright's locators pierce open shadow roots.
    await page.get_by_test_id("launcher").click()
    await page.wait_for_function(
        f"{APP} && {APP}.connection.state !== 'connecting'", timeout=20_000
    )


async def test_widget_talks_from_the_listed_second_origin(
    frontend_server: ServerProcess, second_origin: StaticSite, open_page: OpenPage, shot: Shot
) -> None:
    url = f"{second_origin.url}/widget.html?server={frontend_server.http}"
    async with open_page(url) as page:
        await shot(page, "closed")
        await open_widget(page)
        assert await page.evaluate(f"{APP}.connection.state") == "open"
        # The host page's styles do not leak in: the widget's inputs use its own font.
        font = await page.get_by_test_id("text-input").evaluate(
            "e => getComputedStyle(e).fontFamily"
        )
        assert "Georgia" not in font
        await page.get_by_test_id("text-input").fill("Hi! What can you do?")
        await page.get_by_test_id("send").click()
        await page.wait_for_function(f"{APP}.debug().playing", timeout=30_000)
        await page.wait_for_timeout(600)
        await shot(page, "speaking")
        await page.wait_for_function(
            f"{APP}.debug().received.some(e => e.type === 'response.done')", timeout=60_000
        )
        state = await page.evaluate(f"{APP}.debug()")
        caption_or_log = await page.get_by_test_id("log").inner_text()
    assert state["errors"] == []
    assert "What can you do?" in caption_or_log
    assert any(e["type"] == "response.audio.segment" for e in state["received"])


async def test_widget_is_refused_on_an_unlisted_origin(
    frontend_server: ServerProcess, third_origin: StaticSite, open_page: OpenPage, shot: Shot
) -> None:
    url = f"{third_origin.url}/widget.html?server={frontend_server.http}"
    async with open_page(url) as page:
        await open_widget(page)
        await page.wait_for_function(f"{APP}.debug().errors.length > 0", timeout=10_000)
        await shot(page, "refused")
        state = await page.evaluate(f"{APP}.debug()")
        notice = await page.get_by_test_id("notice").text_content()
        # Without a token, a socket from this origin is refused before it is accepted.
        direct = await page.evaluate(
            """(url) => new Promise((resolve) => {
                 const ws = new WebSocket(url);
                 ws.onopen = () => resolve('open');
                 ws.onclose = (e) => resolve(`closed ${e.code}`);
               })""",
            frontend_server.url,
        )
    assert state["state"] == "closed"
    assert state["session"] is None
    assert state["errors"][0]["code"] == "origin_not_allowed"
    assert notice and "origin_not_allowed" in notice
    assert direct == "closed 1006"
