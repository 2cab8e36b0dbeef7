"""Hostile articles (issue #35): bounded work per article, refused with a reason naming the
limit, and a server that keeps answering meanwhile.

Files, uploads (in-process app, hash embedder) and the worker's deadline run in the fast lane;
fetched pages and feeds from a loopback HTTP server, and a real ``rag serve``, are ``server``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api import create_app
from rag import runtime
from rag.articles.limits import Limits, check_html
from rag.articles.loading import article_from_record, load_paths
from rag.articles.remote import load_urls
from rag.articles.sandbox import run_parser
from rag.articles.watch import Watcher
from rag.cli import commands as cli
from rag.engine import Engine
from rag.errors import ArticleLimitError
from rag.runtime.embedding import HashEmbedder
from rag.settings import Settings
from tests.helpers import ALBANESE, free_port, start_server, stop_server
from tests.localsite import LocalSite

ARTICLE = {"id": "wombats", "title": "Wombat census", "text": "A census found 1,204 wombats."}
STORY = "Wombat census\n\nRangers counted 1,204 wombats in Tasmania this year.\n"


def alias_bomb(levels: int = 9) -> str:
    """A "billion laughs" in front matter: 9 ** levels strings from a few hundred bytes."""
    lines = ["---", "a0: &a0 [" + ",".join(['"lol"'] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join([*lines, f"author: *a{levels - 1}", "---", STORY])


def many_elements(n: int) -> str:
    return "<html><body><article>" + "<p>A paragraph.</p>" * n + "</article></body></html>"


def wide_block(n: int) -> str:
    """One paragraph of ``n`` inline elements: trafilatura's time grows with n squared."""
    inline = "<b>word</b> another thing. " * n
    return f"<html><body><article><p>{inline}</p></article></body></html>"


def _engine(tmp_path: Path, **overrides: object) -> Engine:
    engine = Engine(Settings(index_dir=tmp_path / "index", **overrides), HashEmbedder())  # type: ignore[arg-type]
    engine.ingest([article_from_record(ARTICLE)])
    return engine


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    engine = _engine(tmp_path, fetch_allow_private=True, fetch_retries=0)
    with TestClient(create_app(engine.settings, engine)) as c:
        yield c


def _upload(client: TestClient, name: str, text: str) -> httpx.Response:
    return client.post("/documents", files=[("files", (name, text.encode(), "text/plain"))])


# --- files and the CLI ---------------------------------------------------------------------


def test_a_yaml_alias_bomb_in_front_matter_skips_the_file_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bomb.md").write_text(alias_bomb(), "utf-8")  # 9 ** 9 strings if expanded
    (folder / "fine.md").write_text("---\nauthor: Jane Doyle\n---\n" + STORY, "utf-8")
    started = time.perf_counter()
    loaded = load_paths([folder])
    assert time.perf_counter() - started < 5
    assert [a.doc_id for a in loaded.articles] == ["fine.md"]
    assert loaded.articles[0].author == "Jane Doyle"
    (warning,) = loaded.warnings
    assert "bomb.md" in warning and "alias *a0" in warning
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setattr(runtime, "load_embedder", lambda *a, **k: HashEmbedder())
    assert cli.main(["ingest", str(folder)]) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line for line in lines if "bomb.md" in line] == [f"warning: skipped {warning}"]


def test_front_matter_anchors_are_fine_but_aliases_and_deep_nesting_are_refused(
    tmp_path: Path,
) -> None:
    files = {
        "anchor.md": "---\ntitle: &t Wombat census\n---\n" + STORY,
        "merge.md": "---\nbase: &b {title: X}\nmore:\n  <<: *b\n---\n" + STORY,
        "deep.md": "---\nauthor: " + "[" * 5000 + "]" * 5000 + "\n---\n" + STORY,
        "big.md": "---\ntitle: x\nnotes: '" + "y" * 30_000 + "'\n---\n" + STORY,
        "long.md": "---\nauthor: '" + "Jane " * 1000 + "'\n---\n" + STORY,
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, "utf-8")
    loaded = load_paths([tmp_path])
    assert [a.doc_id for a in loaded.articles] == ["anchor.md"]
    assert loaded.articles[0].title == "Wombat census"
    reasons = {w.split(": ", 1)[0].rsplit("/", 1)[-1]: w for w in loaded.warnings}
    assert "alias *b" in reasons["merge.md"]
    assert "nested more than" in reasons["deep.md"]
    assert "characters of front matter, over the limit of 20,000" in reasons["big.md"]
    assert "characters in front matter 'author', over the limit of 2,000" in reasons["long.md"]


def test_a_page_of_too_many_elements_is_refused_before_parsing(tmp_path: Path) -> None:
    (tmp_path / "huge.html").write_text(many_elements(500_000), "utf-8")  # 10 MB
    started = time.perf_counter()
    loaded = load_paths([tmp_path])
    assert time.perf_counter() - started < 5  # trafilatura took minutes
    (warning,) = loaded.warnings
    assert "huge.html" in warning and "500,00" in warning and "RAG_MAX_HTML_ELEMENTS" in warning
    assert loaded.articles == []


def test_a_page_with_one_very_wide_block_is_refused_before_parsing(tmp_path: Path) -> None:
    (tmp_path / "wide.html").write_text(wide_block(20_000), "utf-8")  # ~25 s to parse
    started = time.perf_counter()
    loaded = load_paths([tmp_path])
    assert time.perf_counter() - started < 5
    (warning,) = loaded.warnings
    assert "wide.html" in warning and "RAG_MAX_BLOCK_CHARS" in warning


def test_a_real_page_is_within_every_limit_and_scripts_do_not_count() -> None:
    page = (Path(__file__).parent / "news" / "site" / "news" / "night-markets.html").read_text()
    check_html(page, Limits())
    script = "<script>" + "var a = b < c; " * 20_000 + "</script>"  # JS: no elements, no text
    svg = "<svg><path d='" + "M0 0 L1 1 " * 10_000 + "'/></svg>"
    check_html(page.replace("</body>", script + svg + "</body>"), Limits())
    with pytest.raises(ArticleLimitError, match="RAG_MAX_HTML_ELEMENTS"):
        check_html(page, Limits(html_elements=10))
    unclosed = "<p>text</p><script>" + "<b>" * 100_000  # an open script hides the rest
    check_html(unclosed, Limits())


def test_text_longer_than_the_limit_is_refused(tmp_path: Path) -> None:
    (tmp_path / "long.txt").write_text("Wombat census\n\n" + "Wombats dig. " * 20_000, "utf-8")
    (tmp_path / "ok.txt").write_text(STORY, "utf-8")
    loaded = load_paths([tmp_path], limits=Limits(article_chars=100_000))
    assert [a.doc_id for a in loaded.articles] == ["ok.txt"]
    assert "over the limit of 100,000 (RAG_MAX_ARTICLE_CHARS)" in loaded.warnings[0]


def test_a_page_with_too_much_text_is_refused_before_or_after_parsing(tmp_path: Path) -> None:
    paragraph = "<p>" + "Wombats dig burrows. " * 5 + "</p>"  # 105 characters of text
    (tmp_path / "long.html").write_text(f"<html><body>{paragraph * 200}</body></html>")
    (tmp_path / "huge.html").write_text(f"<html><body>{paragraph * 600}</body></html>")
    loaded = load_paths([tmp_path], limits=Limits(article_chars=10_000))
    assert loaded.articles == []
    reasons = sorted(loaded.warnings)
    assert "huge.html: 63,000 characters of text in the page" in reasons[0]
    assert "50,000 (5 x RAG_MAX_ARTICLE_CHARS)" in reasons[0]  # refused before parsing
    assert "long.html" in reasons[1] and "(RAG_MAX_ARTICLE_CHARS)" in reasons[1]  # after


# --- the worker's deadline and memory cap --------------------------------------------------


def test_a_parse_past_its_deadline_is_killed_and_the_next_one_runs() -> None:
    started = time.perf_counter()
    with pytest.raises(ArticleLimitError, match="longer than 0.5 s.*RAG_PARSE_TIMEOUT_S"):
        run_parser(time.sleep, 30, timeout_s=0.5)
    assert time.perf_counter() - started < 5
    with pytest.raises(ArticleLimitError, match="GiB of memory"):
        run_parser(bytearray, 8 * 2**30, timeout_s=10)
    with pytest.raises(ValueError, match="invalid literal"):  # the parser's own errors
        run_parser(int, "x", timeout_s=10)
    assert run_parser(len, "four", timeout_s=10) == 4


def test_a_page_too_slow_for_the_deadline_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "slow.html").write_text(wide_block(40_000), "utf-8")
    loose = Limits(html_elements=10**7, block_chars=10**8, parse_timeout_s=2)
    started = time.perf_counter()
    loaded = load_paths([tmp_path], limits=loose)
    assert time.perf_counter() - started < 15  # without the deadline: minutes
    assert "RAG_PARSE_TIMEOUT_S" in loaded.warnings[0] and loaded.articles == []


# --- uploads -------------------------------------------------------------------------------


def test_uploads_over_a_limit_are_422_naming_it(client: TestClient) -> None:
    for name, body, limit in (
        ("bomb.md", alias_bomb(), "alias"),
        ("huge.html", many_elements(100_000), "RAG_MAX_HTML_ELEMENTS"),
        ("wide.html", wide_block(20_000), "RAG_MAX_BLOCK_CHARS"),
    ):
        response = _upload(client, name, body)
        assert response.status_code == 422, response.text
        message = response.json()["error"]["message"]
        assert name in message and limit in message
    both = client.post(
        "/documents",
        files=[
            ("files", ("bomb.md", alias_bomb().encode(), "text/markdown")),
            ("files", ("census.txt", STORY.encode(), "text/plain")),
        ],
    ).json()
    assert both["added"] == ["census.txt"] and "alias" in both["skipped"][0]
    listing = client.get("/documents?limit=50").json()
    assert all(len(d.get("author") or "") < 100 for d in listing["documents"])


def test_a_multipart_body_without_the_files_field_is_422(client: TestClient) -> None:
    other = client.post("/documents", files=[("file", ("x.txt", STORY.encode(), "text/plain"))])
    assert other.status_code == 422 and "'files'" in other.json()["error"]["message"]
    text_only = client.post("/documents", data={"files": "x.txt"})
    assert text_only.status_code == 422
    mixed = client.post(
        "/documents",
        files=[
            ("files", ("a.txt", STORY.encode(), "text/plain")),
            ("other", ("b.txt", STORY.encode(), "text/plain")),
        ],
    ).json()
    assert mixed["added"] == ["a.txt"] and "b.txt: not in the form field" in mixed["skipped"][0]


@pytest.mark.parametrize(
    "name", ["a\x01b.txt", "a\tb.txt", "a\nb.txt", "\x01/ok.txt", "a\u202eb.txt", "a%0Ab.txt"]
)
def test_control_characters_in_an_upload_name_are_422(client: TestClient, name: str) -> None:
    # httpx (like browsers) sends "\n" in a file name as "%0A": it is still a control character
    response = _upload(client, name, STORY)
    assert response.status_code == 422, response.text
    assert "control characters" in response.json()["error"]["message"]
    assert client.get("/documents").json()["total"] == 1  # nothing stored


# --- fetched pages and feeds (loopback HTTP) -----------------------------------------------


@pytest.fixture
def hostile_site() -> Iterator[LocalSite]:
    site = LocalSite()
    site.pages["/bomb.md"] = ("text/markdown", alias_bomb().encode())
    site.pages["/huge.html"] = ("text/html", many_elements(200_000).encode())
    site.pages["/wide.html"] = ("text/html", wide_block(20_000).encode())
    site.pages["/census.txt"] = ("text/plain", STORY.encode())
    items = "".join(
        f"<item><title>{p}</title><link>{site.base}/{p}</link><guid>{p}</guid></item>"
        for p in ("bomb.md", "huge.html", "wide.html", "census.txt")
    )
    feed = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'
    )
    site.pages["/feed.rss"] = ("application/rss+xml", feed.encode())
    yield site
    site.close()


@pytest.mark.server
def test_fetched_hostile_pages_are_refused_naming_the_limit(
    hostile_site: LocalSite, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    base = hostile_site.base
    for path, limit in (
        ("bomb.md", "alias"),
        ("huge.html", "RAG_MAX_HTML_ELEMENTS"),
        ("wide.html", "RAG_MAX_BLOCK_CHARS"),
    ):
        response = client.post("/documents", json={"url": f"{base}/{path}"})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "article_over_limit"
        assert path in response.json()["error"]["message"]
        assert limit in response.json()["error"]["message"]
    settings = Settings(fetch_allow_private=True, fetch_retries=0)
    loaded = load_urls([f"{base}/bomb.md", f"{base}/feed.rss"], settings)
    assert [a.doc_id for a in loaded.articles] == [f"{base}/census.txt"]
    assert len(loaded.warnings) == 4 and all(base in w for w in loaded.warnings)
    fed: list[str] = []
    watcher = Watcher(
        [f"{base}/feed.rss"], settings, lambda arts: fed.extend(a.doc_id for a in arts)
    )
    with caplog.at_level(logging.WARNING, logger="rag.articles.watch"):
        (result,) = watcher.poll()
    assert result.skipped == 3 and fed == [f"{base}/census.txt"]
    lines = [r.getMessage() for r in caplog.records if "skipped item" in r.getMessage()]
    assert len(lines) == 3 and any("RAG_MAX_BLOCK_CHARS" in line for line in lines)


# --- a real server keeps answering ---------------------------------------------------------


@pytest.mark.server
@pytest.mark.model
def test_the_server_answers_while_it_refuses_a_hostile_upload(tmp_path: Path) -> None:
    """Limits opened wide by the operator: the page reaches trafilatura (minutes of work), is
    cut at the 4 s deadline, and /health and /ask answer within a second meanwhile."""
    port = free_port()
    env = {
        "RAG_RATE_LIMIT_PER_MINUTE": "0",
        "RAG_MAX_HTML_ELEMENTS": "10000000",
        "RAG_MAX_BLOCK_CHARS": "100000000",
        "RAG_PARSE_TIMEOUT_S": "4",
    }
    proc = start_server(tmp_path / "index", port, env)
    url = f"http://127.0.0.1:{port}"
    outcome: dict[str, httpx.Response] = {}
    try:  # a first question loads what answering loads once (spaCy's parser): not the point
        assert httpx.post(f"{url}/ask", json={"question": ALBANESE}, timeout=60).status_code == 200
        page = wide_block(40_000).encode()
        upload = threading.Thread(
            target=lambda: outcome.update(
                r=httpx.post(f"{url}/documents", files=[("files", ("w.html", page))], timeout=60)
            )
        )
        started = time.perf_counter()
        upload.start()
        time.sleep(1.0)  # the page is being parsed
        timings = []
        while upload.is_alive() and time.perf_counter() - started < 30:
            began = time.perf_counter()
            assert httpx.get(f"{url}/health", timeout=5).status_code == 200
            answer = httpx.post(f"{url}/ask", json={"question": ALBANESE}, timeout=5)
            assert answer.status_code == 200
            timings.append(time.perf_counter() - began)
        upload.join(60)
        assert timings and max(timings) < 1.0, timings
        refused = outcome["r"]
        assert refused.status_code == 422 and "RAG_PARSE_TIMEOUT_S" in refused.text
        assert time.perf_counter() - started < 20
    finally:
        stop_server(proc)


def test_the_settings_defaults_are_the_documented_limits() -> None:
    assert Settings().limits == Limits()
    tight = Settings(max_html_elements=500, parse_timeout_s=3).limits
    assert tight.html_elements == 500 and tight.parse_timeout_s == 3
