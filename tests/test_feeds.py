"""Pages and feeds over real HTTP: a local server on 127.0.0.1 serves tests/news/site."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from rag.articles.fetching import check_url, fetch
from rag.articles.remote import load_urls
from rag.articles.watch import Watcher
from rag.engine import Engine
from rag.errors import InputError
from rag.models import Article
from rag.settings import Settings
from rag.time.dates import parse_interval

pytestmark = pytest.mark.server  # a loopback HTTP server in a thread
SITE = Path(__file__).parent / "news" / "site"
MB = 1 << 20


class NewsSite:
    """A small news site: files under SITE ({BASE} filled in), and pages that misbehave."""

    def __init__(self) -> None:
        self.overrides: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.flaky_left = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                site.requests.append(self.path)
                site.answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"

    def answer(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.lstrip("/")
        if path == "slow":
            time.sleep(6)
        elif path == "huge":
            return self._huge(h)
        elif path == "moved":
            return self._send(h, 302, b"", "text/html", {"Location": "/news/night-markets.html"})
        elif path == "flaky" and self.flaky_left > 0:
            self.flaky_left -= 1
            return self._send(h, 503, b"busy", "text/plain")
        elif path == "flaky":
            path = "news/night-markets.html"
        elif path == "report.pdf":
            return self._send(h, 200, b"%PDF-1.7\n" + b"\x00" * 2000, "application/pdf")
        body = self.overrides.get(path)
        file = SITE / path
        if body is None and file.is_file() and SITE in file.resolve().parents:
            body = file.read_bytes().replace(b"{BASE}", self.base.encode())
        if body is None:
            return self._send(h, 404, b"not found", "text/plain")
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if h.headers.get("If-None-Match") == etag:
            return self._send(h, 304, b"", "", {"ETag": etag})
        kind = {"rss": "application/rss+xml", "atom": "application/atom+xml"}.get(
            path.rsplit(".", 1)[-1], "text/html; charset=utf-8"
        )
        self._send(h, 200, body, kind, {"ETag": etag})

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        kind: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        h.send_response(status)
        for key, value in {"Content-Type": kind, **(headers or {})}.items():
            if value:
                h.send_header(key, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _huge(self, h: BaseHTTPRequestHandler) -> None:
        """50 MB of HTML with no Content-Length: the limit must hold while streaming."""
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.end_headers()
        try:
            for _ in range(50):
                h.wfile.write(b"<p>" + b"x" * (MB - 7) + b"</p>\n")
        except OSError:
            pass  # the client hung up at its limit


@pytest.fixture
def site() -> Iterator[NewsSite]:
    news = NewsSite()
    yield news
    news.server.shutdown()


def allowing(**extra: object) -> Settings:
    """Settings for tests against 127.0.0.1: private addresses allowed, no retries."""
    values = {"fetch_allow_private": True, "fetch_timeout_s": 5.0, "fetch_retries": 0, **extra}
    return Settings(**values)  # type: ignore[arg-type]


def test_a_page_url_becomes_one_article_with_its_metadata(site: NewsSite) -> None:
    url = site.url("news/night-markets.html")
    [article] = load_urls([url], allowing()).articles
    assert article.doc_id == url and article.url == url
    assert article.title == "Night markets return to the waterfront"
    assert article.date == "2024-05-10" and article.source == "Harbour City Gazette"
    assert article.author == "Lena Fischer"
    assert "Most read" not in article.text and "Subscribe" not in article.text


def test_an_rss_feed_brings_each_item_with_its_date_title_link_and_feed_name(
    site: NewsSite,
) -> None:
    result = load_urls([site.url("feed.rss")], allowing())
    assert result.warnings == []
    by_title = {a.title: a for a in result.articles}
    assert set(by_title) == {
        "Water restrictions lifted after wet autumn",
        "New high school to open in Riverbend by 2027",
        "Rail line to reopen after landslip repairs",
    }
    water = by_title["Water restrictions lifted after wet autumn"]
    assert water.source == "Valley Courier"
    assert water.date == "2024-05-10T23:15:00Z"  # Sat 11 May 09:15 +10:00
    assert water.url == water.doc_id == site.url("news/water-restrictions.html")
    assert "Cotter Dam to 94 percent" in water.text
    rail = by_title["Rail line to reopen after landslip repairs"]
    assert "180 rock anchors" in rail.text  # the feed's full content, no page fetched
    assert rail.author == "Rail Desk"  # the item's author when the content has none
    assert "/news/rail-landslip.html" not in site.requests


def test_an_atom_feed_works_the_same(site: NewsSite) -> None:
    [article] = load_urls([site.url("feed.atom")], allowing()).articles
    assert article.title == "Night markets return to the waterfront"
    assert article.source == "Harbour City Gazette" and article.date == "2024-05-10T09:00:00Z"
    assert "8,000 visitors" in article.text


def test_bad_urls_are_one_line_each_and_the_rest_still_loads(site: NewsSite) -> None:
    bad = ["slow", "missing.html", "huge", "report.pdf", "broken.rss"]
    urls = [site.url(p) for p in bad] + [site.url("news/riverbend-school.html")]
    # timeouts well above a busy machine's page latency, well below the slow page's 6 s
    result = load_urls(urls, allowing(fetch_max_bytes=2 * MB, fetch_timeout_s=2.0))
    assert [a.title for a in result.articles] == ["New high school to open in Riverbend by 2027"]
    assert len(result.warnings) == len(bad)
    for path, warning in zip(bad, result.warnings, strict=True):
        assert site.url(path) in warning and "\n" not in warning
    timeout, missing, huge, pdf, broken = result.warnings
    assert "timed out" in timeout and "404" in missing and "limit" in huge
    assert "not a web page or a feed" in pdf and "application/pdf" in pdf
    assert "feed" in broken


def test_server_side_fetches_refuse_private_addresses_unless_allowed(site: NewsSite) -> None:
    strict = Settings()
    assert not strict.fetch_allow_private  # the default
    with pytest.raises(InputError, match="non-public address 127.0.0.1") as caught:
        fetch(site.url("news/night-markets.html"), strict.fetching)
    assert caught.value.code == "fetch_refused" and site.requests == []
    with pytest.raises(InputError, match=r"non-public address (127\.0\.0\.1|::1)"):  # DNS
        by_name = site.url("news/night-markets.html").replace("127.0.0.1", "localhost")
        fetch(by_name, strict.fetching)
    for url in (
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8000/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://192.168.0.1/admin",
    ):
        with pytest.raises(InputError, match="non-public"):
            check_url(url, strict.fetching)
    for url in ("file:///etc/passwd", "ftp://example.org/x", "gopher://x/", "http:///x"):
        with pytest.raises(InputError, match="only http"):
            check_url(url, strict.fetching)
    assert fetch(site.url("moved"), allowing().fetching).url == site.url("news/night-markets.html")


def test_the_connected_address_is_checked_too(
    site: NewsSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name looked public when checked, the connection reached loopback."""
    import rag.articles.fetching

    monkeypatch.setattr(rag.articles.fetching, "check_url", lambda url, fetching: None)
    with pytest.raises(InputError, match="non-public address 127.0.0.1"):
        fetch(site.url("news/night-markets.html"), Settings(fetch_retries=0).fetching)


def test_a_flaky_server_is_retried_with_backoff(site: NewsSite) -> None:
    site.flaky_left = 1
    got = fetch(site.url("flaky"), allowing(fetch_retries=1).fetching)
    assert got.status == 200 and site.requests.count("/flaky") == 2
    site.flaky_left = 5
    with pytest.raises(InputError, match="answered 503"):
        fetch(site.url("flaky"), allowing(fetch_retries=1).fetching)


def test_watch_uses_conditional_get_and_ingests_only_new_or_changed_items(
    site: NewsSite, caplog: pytest.LogCaptureFixture
) -> None:
    batches: list[list[Article]] = []
    watcher = Watcher([site.url("feed.rss")], allowing(), batches.append)
    caplog.set_level("INFO", logger="rag.articles.watch")
    first = watcher.poll()[0]
    assert (first.status, first.new, len(batches[0])) == ("ok", 3, 3)
    assert watcher.poll()[0].status == "not modified" and len(batches) == 1
    feed = (SITE / "feed.rss").read_text("utf-8").replace("{BASE}", site.base)
    changed = feed.replace(
        "Level two water restrictions end on Monday.",
        "Level two water restrictions end on Monday, the utility confirmed.",
    )
    site.overrides["feed.rss"] = changed.encode()
    site.requests.clear()
    third = watcher.poll()[0]
    assert (third.new, third.changed, third.unchanged) == (0, 1, 2)
    assert [a.title for a in batches[1]] == ["Water restrictions lifted after wet autumn"]
    assert "/news/riverbend-school.html" not in site.requests  # unchanged: not fetched again
    lines = [r.getMessage() for r in caplog.records if r.name == "rag.articles.watch"]
    assert len(lines) == 3 and all(line.startswith("poll http://127.0.0.1") for line in lines)
    assert "not modified" in lines[1] and "1 changed" in lines[2]


def test_watch_logs_a_failing_feed_and_keeps_going(
    site: NewsSite, caplog: pytest.LogCaptureFixture
) -> None:
    batches: list[list[Article]] = []
    feeds = [site.url("broken.rss"), site.url("missing.rss"), site.url("feed.atom")]
    results = Watcher(feeds, allowing(), batches.append).poll()
    assert [r.status for r in results] == ["failed", "failed", "ok"]
    assert [a.title for a in batches[0]] == ["Night markets return to the waterfront"]
    assert sum("failed" in r.getMessage() for r in caplog.records) == 2


def test_intervals() -> None:
    assert [parse_interval(v) for v in ("90", "30s", "10m", "1h")] == [90, 30, 600, 3600]
    assert Settings(feed_interval="10m").feed_interval == 600  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        parse_interval("soon")


def _app_client(engine: Engine, **overrides: object) -> TestClient:
    """The API over ``engine`` with an API key, so that writes are authorised."""
    settings = engine.settings.model_copy(update={"api_keys": ["k"], **overrides})
    engine.settings = settings
    return TestClient(create_app(settings, engine))


AUTH = {"Authorization": "Bearer k"}


def test_post_documents_takes_a_url_for_authorised_writers(
    site: NewsSite, hash_engine: Engine
) -> None:
    with _app_client(hash_engine, fetch_allow_private=True, fetch_retries=0) as c:
        assert c.post("/documents", json={"url": site.url("feed.rss")}).status_code == 401
        ok = c.post("/documents", json={"url": site.url("feed.rss")}, headers=AUTH)
        assert ok.status_code == 200, ok.text
        assert len(ok.json()["added"]) == 3 and ok.json()["skipped"] == []
        doc = c.get("/documents/" + site.url("news/water-restrictions.html")).json()
        assert doc["title"] == "Water restrictions lifted after wet autumn"
        assert doc["source"] == "Valley Courier"
        missing = c.post("/documents", json={"url": site.url("gone.html")}, headers=AUTH)
        assert missing.status_code == 422 and "404" in missing.json()["error"]["message"]
        bad = c.post("/documents", json={"url": "file:///etc/passwd"}, headers=AUTH)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "fetch_refused"


def test_the_server_refuses_to_fetch_loopback_urls_by_default(
    site: NewsSite, hash_engine: Engine
) -> None:
    with _app_client(hash_engine) as c:
        refused = c.post("/documents", json={"url": site.url("feed.rss")}, headers=AUTH)
    assert refused.status_code == 422  # bad input, as api.errors maps it
    assert refused.json()["error"]["code"] == "fetch_refused" and site.requests == []


def test_the_server_polls_rag_feeds_in_the_background(site: NewsSite, hash_engine: Engine) -> None:
    with _app_client(
        hash_engine, feeds=[site.url("feed.atom")], feed_interval=1.0, fetch_allow_private=True
    ) as c:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            listed = c.get("/documents")
            if listed.status_code == 200 and listed.json()["documents"]:
                break
            time.sleep(0.2)
        [doc] = listed.json()["documents"]
    assert doc["title"] == "Night markets return to the waterfront"


@pytest.mark.model
def test_cli_ingests_urls_and_watches_a_feed(
    site: NewsSite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from rag.cli.commands import main

    monkeypatch.setenv("RAG_FETCH_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("RAG_FETCH_RETRIES", "0")
    index = ["--index", str(tmp_path / "index")]
    assert main(["ingest", site.url("feed.atom"), site.url("gone.html"), *index]) == 0
    out, err = capsys.readouterr()
    assert "1 added" in out
    [warning] = err.strip().splitlines()
    assert warning.startswith("warning: skipped") and "gone.html: answered 404" in warning
    caplog.set_level("INFO", logger="rag.articles.watch")
    assert main(["watch", site.url("feed.atom"), "--every", "1s", "--polls", "2", *index]) == 0
    polls = [r.getMessage() for r in caplog.records if r.name == "rag.articles.watch"]
    assert len(polls) == 2 and "1 new" in polls[0] and "1 unchanged" in polls[0]
    assert "not modified" in polls[1]
    with pytest.raises(SystemExit) as usage:
        main(["watch", site.url("feed.atom"), "--every", "soon", *index])
    assert usage.value.code == 2 and "not a duration" in capsys.readouterr().err
