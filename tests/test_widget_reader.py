"""What a reader sees in the widget, on a desktop (1280x800) and a phone (390x844), light and dark.

Real Chromium (Playwright) against a real `rag serve` over seeds/ (the AUKUS article and the
fictional Lowmere bridge story: four outlets, the mayor quoted on several days, a wire story
reprinted). Each view checks: the phone's panel fills the screen and hides the launcher; each
quote names its outlet and date; one source card per article; the [n] chips' text reaches
4.5:1 contrast on its background (computed from the computed styles) with an accent that is
too dark for a dark page or too light for a light one; Escape closes an open excerpt only;
a stopped answer offers "Ask again" and "Edit question"; abstention cards show clean text and
say what the abstention's reason means. Screenshots go to test-output/widget-reader/.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.helpers import ALBANESE, ROOT, free_port, start_server, stop_server
from tests.test_widget import ARGS, _serve_folder

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "test-output" / "widget-reader"
SPEAKER = "What did Mayor Calloway say?"  # five quotes, three outlets, three days (seeds/)
OFF_TOPIC = "What did Calloway say about football?"  # abstains: low_confidence
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# an accent too light for a light panel (1.7:1 on white) and too dark for a dark one (2.0:1)
ACCENTS = {"light": "#7fd4ff", "dark": "#b00020"}
ACCENT_RGB = {"light": "rgb(127, 212, 255)", "dark": "rgb(176, 0, 32)"}
WCAG_AA = 4.5
CUT_PUNCTUATION = re.compile(r"[.!?;:]\u2026|\u2026[.!?;:]|^\u2026?\(")  # "E.…", "…(Kyodo)"

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
    proc = start_server(
        tmp_path_factory.mktemp("reader") / "index",
        port := free_port(),
        {"RAG_RATE_LIMIT_PER_MINUTE": "0", "RAG_CORS_ORIGINS": f"http://127.0.0.1:{host_port}"},
    )
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, server: str, host_port: int) -> Iterator[str]:
    """A light and a dark partner page, each embedding the widget with its accent."""
    folder = tmp_path_factory.mktemp("reader-host")
    backgrounds = {"light": "#ffffff;color:#111", "dark": "#101418;color:#eee"}
    for theme, accent in ACCENTS.items():
        (folder / f"{theme}.html").write_text(
            "<!doctype html><html><head><meta charset='utf-8'><title>Host</title>"
            "<link rel='icon' href='data:,'>"
            f"<style>body{{background:{backgrounds[theme]}}}</style></head><body>"
            "<h1>A partner news site</h1>"
            f'<script src="{server}/widget.js" data-api="{server}" data-accent="{accent}" '
            "defer></script></body></html>",
            "utf-8",
        )
    httpd = _serve_folder(folder, host_port)
    yield f"http://127.0.0.1:{host_port}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def speaker_answer(server: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.post(
        server + "/ask", json={"question": SPEAKER}, timeout=60
    ).json()
    return answer


def _ask(page: Page, question: str) -> Any:
    page.fill("#newsqa-input", question)
    page.press("#newsqa-input", "Enter")
    turn = page.locator(".turn").last
    turn.locator(".actions").first.wait_for()
    return turn


def _wcag(color: list[float]) -> float:
    c = [v / 255 for v in color]
    c = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def _contrast(locator: Any) -> float:
    """The contrast of an element's text on the first opaque background behind it."""
    fg, bg = locator.evaluate(
        """e => {
          const rgb = s => s.match(/[\\d.]+/g).map(Number);
          let node = e, bg = null;
          while (node && !bg) {
            if (node.nodeType === 1) {
              const c = rgb(getComputedStyle(node).backgroundColor);
              if (c.length < 4 || c[3] > 0) bg = c.slice(0, 3);
            }
            node = node.parentNode || node.host;
          }
          return [rgb(getComputedStyle(e).color).slice(0, 3), bg || [255, 255, 255]];
        }"""
    )
    a, b = _wcag(fg), _wcag(bg)
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def _check_layout(page: Page, device: str) -> None:
    panel = page.locator(".panel").bounding_box()
    launcher = page.locator("button.launcher")
    view = VIEWPORTS[device]
    assert panel is not None
    if device == "phone":  # the whole screen, and no launcher under it
        assert (panel["x"], panel["y"]) == (0, 0), panel
        assert (panel["width"], panel["height"]) == (view["width"], view["height"]), panel
        expect(launcher).to_be_hidden()
    else:
        assert panel["width"] < view["width"] / 2 and panel["height"] < view["height"]
        expect(launcher).to_be_visible()


def _check_quotes_and_sources(turn: Any, answer: dict[str, Any]) -> None:
    """Each quote names its outlet and date; one source card per article, with its [n]s."""
    citations = answer["citations"]
    assert len({c["doc_id"] for c in citations}) < len(citations)  # an article cited twice
    expect(turn.locator("blockquote.quote")).to_have_count(len(citations))
    for c, quote in zip(citations, turn.locator("blockquote.quote").all(), strict=True):
        expect(quote.locator(".attribution")).to_have_text(f"{c['source']} \u00b7 {c['date']}")
    docs: dict[str, list[int]] = {}
    for c in citations:
        docs.setdefault(c["doc_id"], []).append(c["n"])
    cards = turn.locator(".sources .card")
    expect(cards).to_have_count(len(docs))
    for (doc_id, numbers), card in zip(docs.items(), cards.all(), strict=True):
        assert card.get_attribute("data-doc") == doc_id
        expect(card.locator(".refs")).to_have_text(" ".join(f"[{n}]" for n in numbers))


def _check_excerpt_escape(page: Page, turn: Any) -> None:
    """Escape on an open excerpt closes the excerpt only (focus returns to its chip, which
    shows its preview); the next closes the preview, which stays closed while the chip keeps the
    pointer and focus, and the one after that closes the panel."""
    chip = turn.locator("button.chip").first
    chip.click()
    excerpt = turn.locator(".excerpt")
    expect(excerpt).to_be_focused()
    page.keyboard.press("Escape")
    expect(excerpt).to_have_count(0)
    expect(page.locator(".panel")).to_be_visible()
    expect(chip).to_be_focused()
    expect(chip).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Escape")
    expect(turn.locator(".preview").first).to_be_hidden()
    # a layout shift under a resting pointer (Chromium's synthetic mouse move) must not reopen it
    chip.dispatch_event("mouseenter")
    expect(turn.locator(".preview").first).to_be_hidden()
    expect(page.locator(".panel")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator(".panel")).to_be_hidden()
    expect(page.locator("button.launcher")).to_be_visible()
    page.locator("button.launcher").click()


def _check_stop_retry_edit(page: Page, question: str) -> None:
    """A stopped answer offers to ask again (which answers) and to edit the question."""
    page.route("**/ask/stream", lambda route: None)  # no answer until Stop
    page.fill("#newsqa-input", question)
    page.press("#newsqa-input", "Enter")
    page.locator("button.stop").click()
    stopped = page.locator(".turn").last
    expect(stopped.locator(".stopped")).to_have_text("Stopped.")
    page.unroute("**/ask/stream")
    stopped.locator("button.edit").click()
    expect(page.locator("#newsqa-input")).to_have_value(question)
    expect(page.locator("#newsqa-input")).to_be_focused()
    page.fill("#newsqa-input", "")
    stopped.locator("button.retry").click()
    again = page.locator(".turn").last
    again.locator(".actions").wait_for()
    assert again.locator(".question").inner_text() == question
    expect(again.locator("blockquote.quote").first).to_be_visible()


def _check_abstention(turn: Any) -> None:
    """A low-confidence abstention says no confident answer was found (not that the articles
    don't say) and shows the closest passages as clean text."""
    abstain = turn.locator(".abstain")
    expect(abstain).to_have_attribute("data-reason", "low_confidence")
    expect(abstain).to_have_text("No confident answer was found in the articles.")
    cards = turn.locator(".passages .card")
    expect(cards.first).to_be_visible()
    turn.page.wait_for_timeout(300)  # the article texts arrive for the exact boundaries
    for text in cards.all_inner_texts():
        assert "#" not in text, text
    for text in turn.locator(".passages .excerpt-text").all_inner_texts():
        assert not CUT_PUNCTUATION.search(text), text


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_reader_view(browser, host: str, speaker_answer, device: str, theme: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=VIEWPORTS[device], color_scheme=theme)
    page = context.new_page()
    page.goto(f"{host}/{theme}.html")
    page.locator("button.launcher").click()
    assert page.locator(".root").get_attribute("data-theme") == theme
    launcher = page.locator("button.launcher")
    # the accent itself stays on the launcher and buttons; only its use as text is adjusted
    assert launcher.evaluate("e => getComputedStyle(e).backgroundColor") == ACCENT_RGB[theme]
    _check_layout(page, device)

    turn = _ask(page, SPEAKER)
    _check_quotes_and_sources(turn, speaker_answer)
    for element in (turn.locator("button.chip").first, turn.locator(".sources a.title").first):
        assert _contrast(element) >= WCAG_AA, (theme, element)
    page.screenshot(path=str(SHOTS / f"answer-{device}-{theme}.png"))
    _check_excerpt_escape(page, turn)
    _check_stop_retry_edit(page, SPEAKER)
    page.screenshot(path=str(SHOTS / f"retried-{device}-{theme}.png"))

    _check_abstention(_ask(page, OFF_TOPIC))
    page.screenshot(path=str(SHOTS / f"abstain-{device}-{theme}.png"))
    context.close()


def test_demo_page_loads_cleanly_and_excerpts_start_at_a_sentence(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else 0)
    page.on("console", lambda m: failed.append(m.text) if m.type == "error" else 0)
    page.goto(server + "/")
    page.wait_for_load_state("networkidle")
    assert failed == []  # no favicon 404 or any other error
    page.locator("button.launcher").click()
    assert ALBANESE in page.locator("button.suggestion").all_inner_texts()
    turn = _ask(page, ALBANESE)
    turn.locator("button.chip").first.click()
    excerpt = turn.locator(".excerpt p").inner_text()
    # the window opens inside a photo caption ending "... Richard Marles. (Kyodo)": it starts
    # at the next paragraph, not at the credit
    assert excerpt.startswith("\u2026While the partnership, formed in 2021"), excerpt[:80]
    # a who-is answer found only in that caption says, under the quote, that it is one
    caption = _ask(page, "Who is the British defence secretary?")
    expect(caption.locator("blockquote.quote").first).to_contain_text("Grant Shapps")
    expect(caption.locator(".attribution").first).to_contain_text("photo caption")
    assert failed == []
    context.close()


ABSTENTIONS = {
    "no_relevant_passage": "The articles don't say.",
    "speaker_not_quoted": "The articles don't quote that person on this.",
    "entity_not_found": "The articles don't mention everything your question names.",
    "low_confidence": "No confident answer was found in the articles.",
}


def test_each_abstention_reason_reads_as_what_it_means(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    """Only the reasons that mean the articles lack the answer say "The articles don't ..."."""
    context = browser.new_context(viewport=VIEWPORTS["phone"])
    page = context.new_page()
    reason = {"value": ""}

    def canned(route: Any) -> None:
        done = {
            "question": "q",
            "answer": "",
            "abstained": True,
            "reason": reason["value"],
            "confidence": 0.1,
            "citations": [],
            "passages": [],
            "timings_ms": {"total": 1.0},
        }
        body = f"event: done\ndata: {json.dumps(done)}\n\n"
        route.fulfill(status=200, content_type="text/event-stream", body=body)

    page.route("**/ask/stream", canned)
    page.goto(server + "/")
    page.locator("button.launcher").click()
    for value, text in ABSTENTIONS.items():
        reason["value"] = value
        expect(_ask(page, f"A question ({value})?").locator(".abstain")).to_have_text(text)
    context.close()


def test_demo_suggestions_show_speaker_time_follow_up_and_also_in(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    """Each question the demo page suggests answers, and together they show a speaker's quotes
    from several outlets and days, a time filter, a follow-up and "Also in"."""
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    page.goto(server + "/")
    page.locator("button.launcher").click()
    suggested = page.locator("button.suggestion").all_inner_texts()
    seen: dict[str, dict[str, Any]] = {}
    for question in suggested:
        turn = _ask(page, question)
        expect(turn.locator(".abstain")).to_have_count(0)
        seen[question] = {
            "outlets": turn.locator(".attribution").all_inner_texts(),
            "time": turn.locator(".time").all_inner_texts(),
            "also": turn.locator(".also-in").all_inner_texts(),
        }
        page.locator("button.reset").click()
    outlets = [o.split(" \u00b7 ") for o in seen[SPEAKER]["outlets"]]
    assert len({o[0] for o in outlets}) >= 2 and len({o[1] for o in outlets}) >= 2, outlets
    assert "before March 6" in seen["What did the mayor say before March 6?"]["time"][0]
    wire = seen["How much is the bridge closure costing local businesses?"]
    assert len(wire["also"]) == 1 and wire["also"][0].startswith("Also in: "), wire
    named = " ".join(wire["outlets"] + wire["also"])  # the wire story and its reprint
    assert "Lantern Wire" in named and "Valley Evening Post" in named, wire
    _ask(page, "What did Calloway say about the repairs?")  # the demo page's follow-up pair
    follow = _ask(page, "And what did Hale say?")
    expect(follow.locator(".resolved")).to_contain_text("What did Hale say about the repairs?")
    expect(follow.locator("blockquote.quote").first).to_contain_text("Hale")
    page.screenshot(path=str(SHOTS / "demo-follow-up.png"))
    context.close()
