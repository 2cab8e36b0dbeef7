"""The chat widget end to end, in a real headless Chromium driven by Playwright.

A real `rag serve` answers; host pages on other loopback origins embed the widget with one
script tag (one origin allowed by CORS, one not); a small SSE server that answers slowly shows
that quotes render as they arrive and that Stop cancels the request. Screenshots of each step
go to test-output/widget/.
"""

from __future__ import annotations

import http.server
import json
import shutil
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.helpers import ALBANESE, ROOT, free_port, start_server, stop_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "test-output" / "widget"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MIN_TARGET_PX = 24  # WCAG 2.2 target size (minimum)
HERALD = {
    "id": "herald-penguins",
    "title": "Little penguins return to Manly",
    "text": "Rangers counted 42 little penguins at Manly beach on Monday, the environment "
    "minister said. The colony is the last on the mainland near Sydney.",
    "url": "https://example.org/herald/penguins",
    "date": "2024-04-10",
    "source": "Sydney Herald",
}
PENGUINS = "How many little penguins did rangers count at Manly?"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.server,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (.ci/run installs it)",
    ),
]


@pytest.fixture(scope="module")
def host_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, host_port: int) -> Iterator[str]:
    """`rag serve` with CORS open to the host pages below (not to the blocked one)."""
    port = free_port()
    proc = start_server(
        tmp_path_factory.mktemp("widget") / "index",
        port,
        {"RAG_RATE_LIMIT_PER_MINUTE": "0", "RAG_CORS_ORIGINS": f"http://127.0.0.1:{host_port}"},
    )
    url = f"http://127.0.0.1:{port}"
    response = httpx.post(url + "/documents", json=[HERALD], timeout=60)
    assert response.status_code == 200, response.text
    yield url
    stop_server(proc)


def _serve_folder(folder: Path, port: int) -> http.server.ThreadingHTTPServer:
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def _page_html(script_src: str, attrs: str = "", head: str = "", body: str = "") -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Host</title>{head}</head><body>"
        f"<h1>A partner news site</h1>{body}"
        f'<script src="{script_src}" {attrs} defer></script></body></html>'
    )


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, server: str, host_port: int) -> Iterator[str]:
    """Pages on another (allowed) origin, each embedding the widget with one script tag."""
    folder = tmp_path_factory.mktemp("host-page")
    js = f"{server}/widget.js"
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    pages = {
        "index.html": _page_html(js, f'data-api="{server}" data-title="Ask the archive"'),
        "dark.html": _page_html(js, f'data-api="{server}" data-theme="dark"'),
        "auto.html": _page_html(js, f'data-api="{server}" data-theme="auto"'),
        "auto-dark-page.html": _page_html(
            js, f'data-api="{server}"', "<style>body{background:#101418;color:#eee}</style>"
        ),
        "vars.html": _page_html(
            js,
            f'data-api="{server}"',
            "<style>:root{--newsqa-accent: rgb(200, 0, 0);--newsqa-radius: 2px}</style>",
        ),
        "attrs.html": _page_html(
            js,
            f'data-api="{server}" data-accent="#00aa00" '
            'data-position="top-left" data-open="true" '
            'data-placeholder="Ask the Herald\u2026" '
            'data-suggestions="Who won?|What did Albanese say?"',
        ),
        "api-down.html": _page_html(js, f'data-api="{dead}"'),
    }
    for name, html in pages.items():
        (folder / name).write_text(html, "utf-8")
    httpd = _serve_folder(folder, host_port)
    yield f"http://127.0.0.1:{host_port}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def blocked_origin(tmp_path_factory: pytest.TempPathFactory, server: str) -> Iterator[str]:
    """A page on an origin that RAG_CORS_ORIGINS does not allow."""
    folder = tmp_path_factory.mktemp("blocked-page")
    (folder / "index.html").write_text(
        _page_html(f"{server}/widget.js", f'data-api="{server}"'), "utf-8"
    )
    port = free_port()
    httpd = _serve_folder(folder, port)
    yield f"http://127.0.0.1:{port}/index.html"
    httpd.shutdown()


class _SlowSSE(http.server.BaseHTTPRequestHandler):
    """An /ask/stream that sends one quote, then waits before the next one and `done`."""

    PAUSE_S = 4.0
    disconnects: list[str] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")

    def do_OPTIONS(self) -> None:  # noqa: N802 (the http.server naming)
        self.send_response(204)
        self._cors()
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(404)
        self._cors()
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self._cors()
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        cites = [
            {
                "n": n,
                "doc_id": "slow",
                "title": "Slow news",
                "url": None,
                "date": "2024-01-02",
                "start": 0,
                "end": 10,
                "quote": quote,
            }
            for n, quote in ((1, "The first quote arrived."), (2, "The second came later."))
        ]
        done = {
            "question": "q",
            "answer": "The first quote arrived. [1] The second came later. [2]",
            "abstained": False,
            "reason": None,
            "confidence": 0.9,
            "citations": cites,
            "passages": [],
            "timings_ms": {"total": 1.0},
        }
        try:
            self._event("retrieval", {"passages": []})
            self._event("quote", cites[0])
            time.sleep(self.PAUSE_S)
            self._event("quote", cites[1])
            self._event("done", done)
        except (BrokenPipeError, ConnectionResetError):
            self.disconnects.append(self.path)

    def _event(self, name: str, data: Any) -> None:
        self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()


@pytest.fixture(scope="module")
def slow_api() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _SlowSSE)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
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


def _finished(page):  # type: ignore[no-untyped-def]
    """The last turn once its answer (and its action bar) is complete."""
    turn = _last_turn(page)
    turn.locator(".actions").wait_for()
    return turn


def _inside_log(page, locator) -> bool:  # type: ignore[no-untyped-def]
    """Whether the element's top line is visible inside the scrolled conversation log."""
    log, box = page.locator(".log").bounding_box(), locator.bounding_box()
    return bool(log and box and log["y"] <= box["y"] and box["y"] + 16 <= log["y"] + log["height"])


def _style(locator, prop: str) -> str:  # type: ignore[no-untyped-def]
    return str(locator.evaluate(f"e => getComputedStyle(e).{prop}"))


def _dark(color: str) -> bool:
    r, g, b = (float(x) for x in color[color.index("(") + 1 : color.index(")")].split(",")[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45 * 255


def test_ask_cite_follow_up_and_abstain(page, server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server + "/")
    page.keyboard.press("Tab")  # keyboard operable: focus the launcher, open with Enter
    page.keyboard.press("Enter")
    assert page.evaluate("() => Object.keys(window).filter(k => k.startsWith('NewsQA'))") == [
        "NewsQAWidget"
    ]
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
    # the context around the highlight starts at a sentence or word boundary, not mid-word
    excerpt = _last_turn(page).locator(".excerpt p").inner_text().lstrip("\u2026")
    docs = httpx.get(server + "/documents").json()["documents"]
    texts = [httpx.get(f"{server}/documents/{d['doc_id']}").json()["text"] for d in docs]
    text = next(t for t in texts if excerpt[:60] in t)
    at = text.find(excerpt[:60])
    assert at >= 0 and (at == 0 or text[at - 1].isspace()), excerpt[:60]
    page.screenshot(path=str(SHOTS / "2-highlighted-source.png"))

    with page.expect_request("**/ask/stream") as request:
        _ask(page, "And what did Kihara say?")
    sent = json.loads(request.value.post_data or "{}")
    assert sent["history"][0]["question"] == ALBANESE
    turn = _finished(page)
    follow = turn.locator("blockquote.quote").first
    assert "Kihara" in follow.inner_text()
    # the interpreted question is shown, and the new answer is scrolled into view
    assert "What did Kihara say about Japan?" in turn.locator(".resolved").inner_text()
    assert _inside_log(page, follow)
    page.screenshot(path=str(SHOTS / "3-follow-up.png"))

    _ask(page, "How do you bake sourdough bread at home?")
    turn = _finished(page)
    abstain = turn.locator(".abstain")  # low confidence: the passages below may still say
    assert abstain.get_attribute("data-reason") == "low_confidence"
    assert "No confident answer" in abstain.inner_text()
    assert turn.locator(".passages li").count() >= 1
    assert _inside_log(page, abstain) and _inside_log(page, turn.locator(".passages li").first)
    page.screenshot(path=str(SHOTS / "4-abstain.png"))

    expect(page.locator("button.send")).to_be_enabled()  # the turn is finished and saved
    assert page.locator(".status").inner_text() == ""  # no stale "Searching..." line
    page.reload()  # the conversation survives a reload (sessionStorage)
    page.locator("button.launcher").click()
    assert page.locator(".turn").count() == 3
    page.locator("button.reset").click()
    assert page.locator(".turn").count() == 0
    expect(page.locator(".empty")).to_be_visible()


def test_empty_state_and_suggested_questions(page, server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server + "/")  # the demo page sets data-suggestions
    page.locator("button.launcher").click()
    expect(page.locator(".empty")).to_contain_text("Ask about the news articles")
    suggestions = page.locator("button.suggestion")
    assert suggestions.count() == 5 and ALBANESE in suggestions.all_inner_texts()
    suggestions.filter(has_text=ALBANESE).click()
    turn = _finished(page)
    assert turn.locator(".question").inner_text() == ALBANESE
    assert "natural candidate" in turn.locator("blockquote.quote").first.inner_text()
    expect(page.locator(".empty")).to_be_hidden()


def test_citation_preview_cards_and_excerpt_boundaries(page, server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server + "/")
    page.locator("button.launcher").click()
    _ask(page, PENGUINS)
    turn = _finished(page)
    chip = turn.locator("button.chip").first
    box = chip.bounding_box()
    assert box is not None and box["width"] >= MIN_TARGET_PX and box["height"] >= MIN_TARGET_PX
    preview = turn.locator(".preview").first
    expect(preview).to_be_hidden()
    chip.hover()  # hover preview: title, source, date and the sentence
    expect(preview).to_be_visible()
    expect(preview).to_contain_text(HERALD["title"])
    expect(preview).to_contain_text("Sydney Herald")
    expect(preview).to_contain_text("2024-04-10")
    expect(preview).to_contain_text("Rangers counted 42 little penguins")
    page.screenshot(path=str(SHOTS / "8-citation-preview.png"))
    page.mouse.move(5, 5)
    expect(preview).to_be_hidden()
    chip.focus()  # and the same on keyboard focus
    expect(preview).to_be_visible()
    page.keyboard.press("Escape")
    expect(preview).to_be_hidden()

    card = turn.locator(".sources .card").first  # source card: title (linked), source, date
    expect(card.locator("a.title")).to_have_attribute("href", HERALD["url"])
    expect(card).to_contain_text("Sydney Herald \u00b7 2024-04-10")

    for button in page.locator(".panel button:visible").all():
        size = button.bounding_box()
        assert size is not None and min(size["width"], size["height"]) >= MIN_TARGET_PX, (
            button.inner_text()
        )
    assert _style(page.locator("#newsqa-input"), "fontSize") == "16px"  # no iOS zoom

    _ask(page, "How do you bake sourdough bread at home?")  # abstains
    turn = _finished(page)
    expect(turn.locator(".abstain")).to_be_visible()
    cards = turn.locator(".passages .card")
    expect(cards.first.locator(".title")).not_to_have_text("")
    doc = httpx.get(f"{server}/documents/{HERALD['id']}").json()["text"]
    seed = httpx.get(f"{server}/documents").json()["documents"]
    texts = {
        HERALD["id"]: doc,
        **{
            d["doc_id"]: httpx.get(f"{server}/documents/{d['doc_id']}").json()["text"] for d in seed
        },
    }
    page.wait_for_timeout(500)  # the article text arrives for the exact boundaries
    flat = [" ".join(t.replace("#", " ").split()) for t in texts.values()]  # as a card shows it
    for excerpt in turn.locator(".passages .excerpt-text").all_inner_texts():
        start = excerpt.lstrip("\u2026").rstrip("\u2026")[:40]
        found = [t.find(start) for t in flat if start in t]
        text = next(t for t in flat if start in t)
        assert found and (found[0] == 0 or text[found[0] - 1].isspace()), excerpt
    page.screenshot(path=str(SHOTS / "9-abstain-cards.png"))


def test_copy_and_feedback(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page = context.new_page()
    page.goto(server + "/")
    page.locator("button.launcher").click()
    _ask(page, ALBANESE)
    turn = _finished(page)
    turn.locator("button.copy").click()
    expect(turn.locator(".action-status")).to_have_text("Copied.")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert "natural candidate" in copied and "Sources:" in copied and "[1]" in copied

    with page.expect_response("**/feedback") as posted:
        turn.locator("button.rate-up").click()
    assert posted.value.status == 201
    expect(turn.locator("button.rate-up")).to_have_attribute("aria-pressed", "true")
    expect(turn.locator("button.rate-down")).to_have_attribute("aria-pressed", "false")
    stored = httpx.get(server + "/feedback").json()  # loopback: allowed to list
    assert stored[0]["rating"] == "up" and stored[0]["question"] == ALBANESE
    assert "natural candidate" in stored[0]["answer"]
    assert 'rag_feedback_total{rating="up"} 1.0' in httpx.get(server + "/metrics").text
    context.close()


def test_hostile_article_renders_inert(page, server: str) -> None:  # type: ignore[no-untyped-def]
    hostile = {
        "id": "hostile-1",
        "title": '<img src=x onerror="window.__pwned=1">Evil title',
        "url": "javascript:window.__pwned=1",
        "text": "The zebra festival <script>window.__pwned=1</script> drew 900 visitors, "
        'organisers said. <img src=x onerror="window.__pwned=1"> Zebras danced.',
    }
    response = httpx.post(server + "/documents", json=[hostile], timeout=60)
    assert response.status_code == 200, response.text
    page.goto(server + "/")
    page.locator("button.launcher").click()
    _ask(page, "How many visitors did the zebra festival draw?")
    turn = _finished(page)
    quote = turn.locator("blockquote.quote").first
    assert "<script>" in quote.inner_text()
    turn.locator("button.chip").first.click()
    turn.locator(".excerpt mark").wait_for()
    turn.locator("button.chip").first.hover()
    page.screenshot(path=str(SHOTS / "5-hostile-inert.png"))
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator(".turn img").count() == 0 and page.locator(".turn script").count() == 0
    assert page.locator(".sources a").count() == 0  # the javascript: url is not linked
    assert "Evil title" in page.locator(".sources").last.inner_text()


def test_errors_are_readable_and_input_stays_usable(page, server: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server + "/")
    page.locator("button.launcher").click()
    page.route(
        "**/ask/stream",
        lambda route: route.fulfill(
            status=429,
            content_type="application/json",
            body=json.dumps({"error": {"code": "rate_limited", "message": "slow down"}}),
        ),
    )
    _ask(page, ALBANESE)
    error = _last_turn(page).locator(".error")
    error.wait_for()
    assert "Too many questions" in error.inner_text()
    page.unroute("**/ask/stream")
    page.route("**/ask/stream", lambda route: route.abort())
    _ask(page, ALBANESE)
    _last_turn(page).locator(".error").wait_for()
    assert "not reachable" in _last_turn(page).locator(".error").inner_text()
    expect(page.locator(".status")).to_have_text("")
    page.screenshot(path=str(SHOTS / "6-errors.png"))
    page.unroute("**/ask/stream")
    assert page.locator("#newsqa-input").is_enabled()
    _last_turn(page).locator("button.retry").click()  # "Ask again" under the error
    assert _last_turn(page).locator(".question").inner_text() == ALBANESE
    _last_turn(page).locator("blockquote.quote").first.wait_for()


def test_origin_not_allowed_is_named_as_such(page, blocked_origin: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(blocked_origin)
    page.locator("button.launcher").click()
    _ask(page, ALBANESE)
    error = _last_turn(page).locator(".error")
    error.wait_for()
    assert "does not accept questions from this site" in error.inner_text()
    assert "RAG_CORS_ORIGINS" in error.inner_text()
    expect(page.locator(".status")).to_have_text("")  # no stale "Searching..." under it
    page.screenshot(path=str(SHOTS / "10-cors.png"))


def test_styles_come_from_the_script_origin_when_the_api_is_down(page, host: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(host + "/api-down.html")
    launcher = page.locator("button.launcher")
    expect(launcher).to_be_visible()
    assert _style(launcher, "position") == "fixed"
    box = launcher.bounding_box()
    assert box is not None and box["x"] > 600 and box["y"] > 600  # bottom right, styled
    launcher.click()
    _ask(page, ALBANESE)
    _last_turn(page).locator(".error").wait_for()
    assert "not reachable" in _last_turn(page).locator(".error").inner_text()


def test_themes_attributes_and_host_css_variables(browser, host: str) -> None:  # type: ignore[no-untyped-def]
    # the OS is dark in this context: only pages that are dark get a dark widget on "auto"
    context = browser.new_context(viewport={"width": 1100, "height": 800}, color_scheme="dark")
    page = context.new_page()
    for name, dark in (
        ("dark.html", True),
        ("auto.html", False),
        ("auto-dark-page.html", True),
        ("index.html", False),
    ):
        page.goto(f"{host}/{name}")
        page.locator("button.launcher").click()
        assert _dark(_style(page.locator(".panel"), "backgroundColor")) is dark, name
    page.screenshot(path=str(SHOTS / "11-dark-page.png"))

    page.goto(host + "/vars.html")  # a host page's CSS custom properties reach the widget
    assert _style(page.locator("button.launcher"), "backgroundColor") == "rgb(200, 0, 0)"
    page.locator("button.launcher").click()
    assert _style(page.locator(".panel"), "borderTopLeftRadius") == "2px"

    page.goto(host + "/attrs.html")
    expect(page.locator(".panel")).to_be_visible()  # data-open
    launcher = page.locator("button.launcher")
    assert _style(launcher, "backgroundColor") == "rgb(0, 170, 0)"  # data-accent
    box = launcher.bounding_box()
    assert box is not None and box["x"] < 100 and box["y"] < 100  # data-position="top-left"
    expect(page.locator("#newsqa-input")).to_have_attribute("placeholder", "Ask the Herald\u2026")
    assert page.locator("button.suggestion").all_inner_texts() == [
        "Who won?",
        "What did Albanese say?",
    ]
    page.screenshot(path=str(SHOTS / "12-attributes.png"))
    context.close()


def test_quotes_render_as_they_arrive_and_stop_cancels(  # type: ignore[no-untyped-def]
    page,
    server: str,
    slow_api: str,
) -> None:
    page.goto(server + "/")
    page.evaluate(
        "api => window.NewsQAWidget.instance = window.NewsQAWidget.mount("
        "{api: api, title: 'Slow', cssHref: location.origin + '/widget.css'})",
        slow_api,
    )
    widget = page.locator("news-qa-widget").last
    widget.locator("button.launcher").click()
    widget.locator("#newsqa-input").fill("Anything?")
    widget.locator("#newsqa-input").press("Enter")
    turn = widget.locator(".turn").last
    expect(turn.locator("blockquote.quote")).to_have_count(1, timeout=3000)
    # the first quote is on screen while the rest of the answer is still on its way
    assert turn.locator(".answer[aria-busy='true']").count() == 1
    assert turn.locator(".actions").count() == 0
    expect(widget.locator("button.stop")).to_be_visible()
    expect(turn.locator("blockquote.quote")).to_have_count(2, timeout=_SlowSSE.PAUSE_S * 2000)
    turn.locator(".actions").wait_for()

    widget.locator("#newsqa-input").fill("Again?")
    widget.locator("#newsqa-input").press("Enter")
    turn = widget.locator(".turn").last
    expect(turn.locator("blockquote.quote")).to_have_count(1, timeout=3000)
    widget.locator("button.stop").click()
    expect(turn.locator(".stopped")).to_have_text("Stopped.")
    expect(widget.locator("button.send")).to_be_visible()
    expect(widget.locator(".status")).to_have_text("")
    deadline = time.monotonic() + _SlowSSE.PAUSE_S + 3
    while not _SlowSSE.disconnects and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _SlowSSE.disconnects, "the server kept sending: the request was not cancelled"
    page.screenshot(path=str(SHOTS / "13-stopped.png"))


def test_narrow_screen_and_other_origin(browser, host: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 320, "height": 640})
    page = context.new_page()
    page.goto(host + "/index.html")
    page.locator("button.launcher").click()
    _ask(page, ALBANESE)
    quote = _last_turn(page).locator("blockquote.quote").first
    quote.wait_for()
    assert "natural candidate" in quote.inner_text()
    box = page.locator(".panel").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320
    page.screenshot(path=str(SHOTS / "7-other-origin-320px.png"))
    context.close()


def test_answer_span_is_marked_inside_the_quote(page, server: str) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.post(server + "/ask", json={"question": PENGUINS}, timeout=60).json()
    cited = answer["citations"][0]
    span = HERALD["text"][
        cited["answer_start"] - cited["start"] : cited["answer_end"] - cited["start"]
    ]
    assert cited["doc_id"] == HERALD["id"] and "42" in span
    page.goto(server + "/")
    page.locator("button.launcher").click()
    _ask(page, PENGUINS)
    turn = _finished(page)
    quote = turn.locator("blockquote.quote").first
    mark = quote.locator(":scope > mark.answer-span")  # (the hover preview has its own)
    expect(mark).to_have_count(1)
    assert mark.inner_text() == span  # the span the API gave, inside the unchanged quote
    assert quote.inner_text().startswith(cited["quote"])
    assert _style(mark, "fontWeight") == "600"
    turn.locator("button.chip").first.click()  # the source excerpt shows it too
    expect(turn.locator(".excerpt mark strong.answer-span")).to_have_text(span)
    page.screenshot(path=str(SHOTS / "14-answer-span.png"))


def _copies_answer() -> dict[str, Any]:
    """An answer whose citation has a span and two other outlets carrying the story (one with
    a hostile title and a javascript: link)."""
    quote = "Rangers counted 42 little penguins at Manly beach on Monday."
    citation = {
        "n": 1,
        "doc_id": HERALD["id"],
        "title": HERALD["title"],
        "url": HERALD["url"],
        "date": "2024-04-10",
        "source": "Sydney Herald",
        "start": 0,
        "end": len(quote),
        "quote": quote,
        "score": 1.0,
        "answer_start": 16,
        "answer_end": 18,
        "also_in": [
            {
                "doc_id": "wire-penguins",
                "title": "Penguins back at Manly",
                "source": "AAP",
                "date": "2024-04-11",
                "url": "https://example.org/aap/penguins",
            },
            {
                "doc_id": "blog-penguins",
                "title": '<img src=x onerror="window.__pwned=1">',
                "source": None,
                "date": None,
                "url": "javascript:window.__pwned=1",
            },
        ],
    }
    return {
        "question": PENGUINS,
        "answer": f"{quote} [1]",
        "abstained": False,
        "reason": None,
        "confidence": 0.9,
        "citations": [citation],
        "passages": [],
        "timings_ms": {"total": 1.0},
    }


def test_source_cards_list_the_other_outlets_of_the_story(page, server: str) -> None:  # type: ignore[no-untyped-def]
    done = _copies_answer()
    body = "".join(
        f"event: {name}\ndata: {json.dumps(data)}\n\n"
        for name, data in (
            ("retrieval", {"passages": []}),
            ("quote", done["citations"][0]),
            ("done", done),
        )
    )
    page.route(
        "**/ask/stream",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=body),
    )
    page.goto(server + "/")
    page.locator("button.launcher").click()
    _ask(page, PENGUINS)
    turn = _finished(page)
    expect(turn.locator("blockquote.quote > mark.answer-span")).to_have_text("42")
    also = turn.locator(".sources .card .also-in")
    expect(also).to_have_count(1)
    expect(also).to_contain_text(
        'Also in: AAP (2024-04-11), <img src=x onerror="window.__pwned=1">'
    )
    expect(also.locator("a")).to_have_count(1)  # the javascript: link is shown as text only
    expect(also.locator("a")).to_have_attribute("href", "https://example.org/aap/penguins")
    assert page.locator(".turn img").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    page.screenshot(path=str(SHOTS / "15-also-in.png"))
