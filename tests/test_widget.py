"""The chat widget end to end, in a real headless Chromium driven by Playwright.

Screenshots of each step go to test-output/widget/.
"""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import ALBANESE, ROOT, free_port, start_server, stop_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "test-output" / "widget"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def host_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, host_port: int) -> Iterator[str]:
    """`rag serve` with CORS open to the other-origin host page below."""
    port = free_port()
    proc = start_server(tmp_path_factory.mktemp("widget") / "index", port, {
        "RAG_RATE_LIMIT_PER_MINUTE": "0", "RAG_CORS_ORIGINS": f"http://127.0.0.1:{host_port}"})
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


@pytest.fixture(scope="module")
def other_origin(tmp_path_factory: pytest.TempPathFactory, server: str,
                 host_port: int) -> Iterator[str]:
    """A plain page on another origin that embeds the widget with one script tag."""
    folder = tmp_path_factory.mktemp("host-page")
    (folder / "index.html").write_text(
        "<!doctype html><html><head><title>Other site</title></head><body>"
        "<h1>A partner news site</h1>"
        f'<script src="{server}/widget.js" data-api="{server}" data-title="Ask the archive" '
        "defer></script></body></html>", "utf-8")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", host_port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{host_port}/index.html"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    pg = context.new_page()
    yield pg
    context.close()


def _ask(page, question: str) -> None:  # type: ignore[no-untyped-def]
    page.fill("#newsqa-input", question)
    page.press("#newsqa-input", "Enter")


def _last_turn(page):  # type: ignore[no-untyped-def]
    return page.locator(".turn").last


def test_ask_cite_follow_up_and_abstain(page, server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server + "/")
    page.keyboard.press("Tab")  # keyboard operable: focus the launcher, open with Enter
    page.keyboard.press("Enter")
    assert page.evaluate("() => Object.keys(window).filter(k => k.startsWith('NewsQA'))") == \
        ["NewsQAWidget"]
    _ask(page, ALBANESE)
    quote = _last_turn(page).locator("blockquote.quote").first
    quote.wait_for()
    assert "natural candidate" in quote.inner_text()
    page.locator(".sources li").first.wait_for()
    page.screenshot(path=str(SHOTS / "1-answer.png"))

    _last_turn(page).locator("button.chip").first.click()
    mark = _last_turn(page).locator(".excerpt mark")
    mark.wait_for()
    assert "natural candidate" in mark.inner_text()
    page.screenshot(path=str(SHOTS / "2-highlighted-source.png"))

    with page.expect_request("**/ask/stream") as request:
        _ask(page, "And what did Kihara say?")
    sent = json.loads(request.value.post_data or "{}")
    assert sent["history"][0]["question"] == ALBANESE
    follow = _last_turn(page).locator("blockquote.quote").first
    follow.wait_for()
    assert "Kihara" in follow.inner_text()
    page.screenshot(path=str(SHOTS / "3-follow-up.png"))

    _ask(page, "How do you bake sourdough bread at home?")
    abstain = _last_turn(page).locator(".abstain")
    abstain.wait_for()
    assert "don't say" in abstain.inner_text()
    assert _last_turn(page).locator(".passages li").count() >= 1
    page.screenshot(path=str(SHOTS / "4-abstain.png"))

    expect(page.locator("button.send")).to_be_enabled()  # the turn is finished and saved
    page.reload()  # the conversation survives a reload (sessionStorage)
    page.locator("button.launcher").click()
    assert page.locator(".turn").count() == 3
    page.locator("button.reset").click()
    assert page.locator(".turn").count() == 0


def test_hostile_article_renders_inert(page, server: str) -> None:  # type: ignore[no-untyped-def]
    hostile = {
        "id": "hostile-1", "title": '<img src=x onerror="window.__pwned=1">Evil title',
        "url": "javascript:window.__pwned=1",
        "text": 'The zebra festival <script>window.__pwned=1</script> drew 900 visitors, '
                'organisers said. <img src=x onerror="window.__pwned=1"> Zebras danced.'}
    response = httpx.post(server + "/documents", json=[hostile], timeout=60)
    assert response.status_code == 200, response.text
    page.goto(server + "/")
    page.locator("button.launcher").click()
    _ask(page, "How many visitors did the zebra festival draw?")
    quote = _last_turn(page).locator("blockquote.quote").first
    quote.wait_for()
    assert "<script>" in quote.inner_text()
    _last_turn(page).locator("button.chip").first.click()
    _last_turn(page).locator(".excerpt mark").wait_for()
    page.screenshot(path=str(SHOTS / "5-hostile-inert.png"))
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator(".turn img").count() == 0 and page.locator(".turn script").count() == 0
    assert page.locator(".sources a").count() == 0  # the javascript: url is not linked
    assert "Evil title" in page.locator(".sources").last.inner_text()


def test_errors_are_readable_and_input_stays_usable(page, server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server + "/")
    page.locator("button.launcher").click()
    page.route("**/ask/stream", lambda route: route.fulfill(
        status=429, content_type="application/json",
        body=json.dumps({"error": {"code": "rate_limited", "message": "slow down"}})))
    _ask(page, ALBANESE)
    error = _last_turn(page).locator(".error")
    error.wait_for()
    assert "Too many questions" in error.inner_text()
    page.unroute("**/ask/stream")
    page.route("**/ask/stream", lambda route: route.abort())
    _ask(page, ALBANESE)
    _last_turn(page).locator(".error").wait_for()
    assert "not reachable" in _last_turn(page).locator(".error").inner_text()
    page.screenshot(path=str(SHOTS / "6-errors.png"))
    page.unroute("**/ask/stream")
    assert page.locator("#newsqa-input").is_enabled()
    _ask(page, ALBANESE)
    _last_turn(page).locator("blockquote.quote").first.wait_for()


def test_narrow_screen_and_other_origin(browser, other_origin: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 320, "height": 640})
    page = context.new_page()
    page.goto(other_origin)
    page.locator("button.launcher").click()
    _ask(page, ALBANESE)
    quote = _last_turn(page).locator("blockquote.quote").first
    quote.wait_for()
    assert "natural candidate" in quote.inner_text()
    box = page.locator(".panel").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320
    page.screenshot(path=str(SHOTS / "7-other-origin-320px.png"))
    context.close()
