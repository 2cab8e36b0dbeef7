"""What a reader and an editor see on the command line (issue 33): help with examples, a
human `rag stats`, articles newest first, answers in reader's words (offsets and reasons under
--verbose and --json), questions with no words, skipped URLs, a busy port, `rag watch` lines.

In-process with the hash embedder (fast lane) unless marked.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.cli import commands as cli
from rag.cli.view import render
from rag.models import Answer, Passage
from tests.helpers import ALBANESE, ROOT, SEED_ARTICLES, SEEDS


@pytest.fixture
def rag(hash_run):  # type: ignore[no-untyped-def]
    """`rag ...` in-process over a private index built with the hash embedder (conftest)."""
    return hash_run


def _help(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as done:
        cli.main([*args, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def test_ask_help_explains_every_option_and_shows_examples(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = " ".join(_help(capsys, "ask").split())  # argparse wraps lines
    for option, words in {
        "--top-k N": "how many passages",
        "--source OUTLET": "only articles from this outlet",
        "--doc-id ID": "only this article",
        "--date-from YYYY-MM-DD": "on or after",
        "--date-to YYYY-MM-DD": "on or before",
        "--verbose": "offsets",
    }.items():
        assert option in text and words in text, option
    assert "examples: rag ask What did Albanese say about Japan?" in text
    for command in ("ingest", "search", "documents", "stats", "watch", "serve", "eval", "train"):
        assert f"examples:\n  rag {command}" in _help(capsys, command), command


def test_stats_is_a_summary_and_json_on_request(rag) -> None:  # type: ignore[no-untyped-def]
    rag("ingest", str(SEEDS))
    code, out, _ = rag("stats")
    assert code == 0 and not out.lstrip().startswith("{")
    assert f"{SEED_ARTICLES} articles" in out and "1 segment" in out and "sentences" in out
    assert "model: hash" in out and "index: " in out and "separators" not in out
    code, out, _ = rag("stats", "--json")
    stats = json.loads(out)
    assert stats["counts"]["articles"] == SEED_ARTICLES and "chunking" in stats


FEED_ITEM = {  # dated by a feed's timestamp
    "id": "https://news.example/feed-item",
    "url": "https://news.example/feed-item",
    "title": "Harbour ferry timetable changes",
    "source": "Harbour News",
    "date": "2024-04-12T08:00:00Z",
    "text": "The harbour ferry will run every twenty minutes from Monday, the operator said.",
}
DAILY = {
    "id": "daily-1",
    "title": "Penguins counted at Manly",
    "source": "AP",
    "date": "2024-04-10",
    "text": "Rangers counted 42 little penguins at Manly beach on Monday, the minister said.",
}


def test_documents_newest_first_one_date_form_and_plural(rag, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in (DAILY, FEED_ITEM)))
    rag("ingest", str(records), str(SEEDS / "000_a842a3da874e1a7d.txt"))
    code, out, _ = rag("documents")
    ids = re.findall(r"\| (\S+) \| \d+ chunks?$", out, re.M)
    assert code == 0 and ids == [FEED_ITEM["id"], "daily-1", "000_a842a3da874e1a7d.txt"]
    assert "Harbour News | 2024-04-12 | " in out and "T08:00" not in out  # the day, as others
    assert "| 1 chunk\n" in out and "1 chunks" not in out


def test_answers_in_readers_words_details_under_verbose(rag, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps(FEED_ITEM) + "\n")
    rag("ingest", str(records))
    question = "How often will the harbour ferry run from Monday?"
    code, out, _ = rag("ask", question)
    assert code == 0 and "twenty minutes" in out
    [source] = [line for line in out.splitlines() if line.startswith("[1]")]
    assert source.count(FEED_ITEM["url"]) == 1  # the id is the URL: printed once
    assert "Harbour News, 2024-04-12" in source and "characters" not in out
    code, out, _ = rag("ask", question, "--verbose")
    assert re.search(r"characters \d+-\d+", out) and out.count(FEED_ITEM["url"]) == 1
    code, out, _ = rag("ask", question, "--json")
    assert {"start", "end"} <= set(json.loads(out)["citations"][0])


def _abstention(reason: str) -> Answer:
    passage = Passage("d1", "d1#0", 0, 40, "Rangers counted 42 penguins on Monday.", 0.5)
    return Answer("q?", "", True, reason, 0.0, (), (passage,), {})


def test_a_low_confidence_abstention_is_not_the_articles_lacking_it() -> None:
    shown = render(_abstention("low_confidence"))
    assert "No confident answer" in shown and "don't say" not in shown
    assert "closest passages" in shown and "Rangers counted 42 penguins" in shown
    assert "reason" not in shown and "confidence 0.00" not in shown and "[0:40]" not in shown
    verbose = render(_abstention("low_confidence"), verbose=True)
    assert "reason: low_confidence, confidence 0.00" in verbose and "d1 [0:40]" in verbose
    for reason in ("no_relevant_passage", "entity_not_found"):
        assert render(_abstention(reason)).startswith("The articles don't say")
    assert "don't quote" in render(_abstention("speaker_not_quoted"))


@pytest.mark.parametrize("question", ["   ?", "?!", "..."])
def test_a_question_with_no_words_is_refused(rag, question: str) -> None:  # type: ignore[no-untyped-def]
    rag("ingest", str(SEEDS / "000_a842a3da874e1a7d.txt"))
    code, out, err = rag("ask", question)
    assert code == 2 and "has no words" in err and len(err.strip().splitlines()) == 1


def test_the_api_refuses_a_question_with_no_words(hash_seed_engine) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from api import create_app

    with TestClient(create_app(hash_seed_engine.settings, hash_seed_engine)) as client:
        for path in ("/ask", "/ask/stream"):
            response = client.post(path, json={"question": "   ?"})
            assert response.status_code == 422, path
            assert "has no words" in response.json()["error"]["message"]


@pytest.fixture
def missing_page() -> Iterator[str]:
    """A loopback URL that answers 404."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Gone(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gone)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/gone.html"
    server.shutdown()


def test_a_skipped_url_says_what_happened_to_it(  # type: ignore[no-untyped-def]
    rag, missing_page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = rag("ingest", missing_page)  # loopback: refused by default
    last = err.strip().splitlines()[-1]
    assert code == 2 and last.startswith(f"error: nothing to ingest: {missing_page}")
    assert "every file" not in err
    monkeypatch.setenv("RAG_FETCH_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("RAG_FETCH_RETRIES", "0")
    code, _, err = rag("ingest", missing_page)
    last = err.strip().splitlines()[-1]
    assert code == 2 and "404" in last and missing_page in last
    code, _, err = rag("ingest", missing_page, missing_page.replace("gone", "lost"))
    assert code == 2 and "every URL was skipped" in err


def test_serve_on_a_busy_port_is_one_line_before_serving(rag) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        code, out, err = rag("serve", "--port", port)
    assert code == 1 and "serving on" not in out
    assert err.strip() == (
        f"error: cannot serve on 127.0.0.1:{port}: the port is in use (another `rag serve`?); "
        "choose another with --port"
    )


def test_feedback_and_the_feed_lock_are_ignored_by_git() -> None:
    names = ["index-feedback.sqlite", ".index-feeds.lock"]
    done = subprocess.run(
        ["git", "check-ignore", *names], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.stdout.split() == names


def test_feedback_is_kept_beside_the_index(tmp_path: Path, hash_engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from api import create_app

    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)  # not the index's folder
    with TestClient(create_app(hash_engine.settings, hash_engine)) as client:
        sent = client.post("/feedback", json={"question": ALBANESE, "rating": "up"})
        assert sent.status_code == 201, sent.text
    index = Path(hash_engine.settings.storage.index_dir)
    assert (index.parent / f"{index.name}-feedback.sqlite").is_file()
    assert not list(work.iterdir())


@pytest.mark.model
@pytest.mark.server
def test_watch_says_when_it_starts_and_when_each_poll_ran(tmp_path: Path) -> None:
    from tests.test_feeds import NewsSite

    site = NewsSite()
    env = {
        **os.environ,
        "RAG_INDEX_DIR": str(tmp_path / "index"),
        "RAG_FETCH_ALLOW_PRIVATE": "true",
        "RAG_FETCH_RETRIES": "0",
    }
    feed = site.url("feed.atom")
    rag = [sys.executable, "-m", "rag.cli.commands"]
    try:
        subprocess.run([*rag, "ingest", feed], env=env, check=True, capture_output=True)
        done = subprocess.run(
            [*rag, "watch", feed, "--every", "1s", "--polls", "2"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        site.server.shutdown()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("watching 1 feed every 1s into ") and "2 polls" in done.stdout
    polls = [line for line in done.stderr.splitlines() if " poll " in line]
    stamp = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d poll "
    assert len(polls) == 2 and all(re.match(stamp, line) for line in polls), done.stderr
    # a restarted watch has read the item again; the index already has it: the words agree
    assert "1 read (1 new to this watch, 0 changed)" in polls[0]
    assert "index: 0 added, 0 replaced, 1 unchanged (already stored)" in polls[0]
    assert "not modified" in polls[1]


def test_a_reader_that_leaves_the_pipe_early_gets_no_error(rag, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`rag documents | head -1`: the rest of the output has nowhere to go, and that is no
    error to print (it was "error: [Errno 32] Broken pipe")."""
    assert rag("ingest", str(SEEDS))[0] == 0
    exe = Path(sys.executable).parent / "rag"
    env = {**os.environ, "RAG_INDEX_DIR": str(tmp_path / "index")}
    for _ in range(3):  # the pipe is closed before the process writes: no race to lose
        proc = subprocess.Popen(
            [str(exe), "documents"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 141, err
        assert err == ""
