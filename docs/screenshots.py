"""Regenerate the widget screenshots in docs/ from a real `rag serve` over seeds/.

    PYTHONPATH=$PWD .venv/bin/python docs/screenshots.py [--out docs]

Starts `rag serve` on a loopback port with a fresh index of seeds/ (in a temporary folder),
opens the demo page in Debian's Chromium (Playwright) and asks the demo's speaker question:

- widget-answer.png: a desktop window, 1280x800;
- widget-phone.png: a phone, 390x844 (the panel fills the screen).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from bench.serving import ROOT, free_port, start_server, stop_server

QUESTION = "What did Mayor Calloway say?"  # five quotes from three outlets over three days
SHOTS = {
    "widget-answer.png": {"width": 1280, "height": 800},
    "widget-phone.png": {"width": 390, "height": 844},
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]


def shoot(browser: Browser, url: str, viewport: dict[str, int], path: Path) -> None:
    """The demo page at ``viewport`` with the widget open on the answer to QUESTION."""
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(url)
    page.locator("button.launcher").click()
    page.fill("#newsqa-input", QUESTION)
    page.press("#newsqa-input", "Enter")
    page.locator(".turn .actions").wait_for(timeout=60_000)
    page.wait_for_timeout(500)  # the source cards' titles and links arrive
    page.locator(".log").evaluate("log => log.scrollTop = 0")
    page.screenshot(path=str(path))
    context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNGs")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with tempfile.TemporaryDirectory(prefix="rag-shots-") as tmp:
        port = free_port()
        proc = start_server(Path(tmp) / "index", port, {"RAG_RATE_LIMIT_PER_MINUTE": "0"})
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                for name, viewport in SHOTS.items():
                    shoot(browser, f"http://127.0.0.1:{port}/", viewport, args.out / name)
                    print(args.out / name)
                browser.close()
        finally:
            stop_server(proc)


if __name__ == "__main__":
    main()
