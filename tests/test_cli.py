"""The `rag` command line: output, exit codes and one-line errors."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag import runtime
from rag.cli import commands as cli
from rag.runtime.embedding import SentenceTransformerEmbedder
from tests.conftest import ALBANESE, SEEDS
from tests.helpers import SEED_ARTICLES


@pytest.fixture
def run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    embedder: SentenceTransformerEmbedder,
    capsys: pytest.CaptureFixture[str],
):  # type: ignore[no-untyped-def]
    """Run `rag ...` in-process against a private index, reusing the session's model."""
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setattr(runtime, "load_embedder", lambda *a, **k: embedder)

    def _run(*args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return _run


@pytest.mark.model
def test_question_before_any_ingest_is_a_one_line_error(run) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run("ask", ALBANESE)
    assert code == 1 and "no index" in err and "rag ingest" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.model
def test_ingest_then_ask_human_and_json(run) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run("ingest", str(SEEDS))
    assert code == 0 and f"{SEED_ARTICLES} added" in out
    code, out, _ = run("ask", ALBANESE)
    assert code == 0 and "natural candidate" in out and "Sources:" in out and "[1]" in out
    code, out, _ = run("ask", ALBANESE, "--json")
    answer = json.loads(out)
    assert answer["citations"][0]["doc_id"] == "000_a842a3da874e1a7d.txt"
    code, out, _ = run("ingest", str(SEEDS))
    assert f"{SEED_ARTICLES} unchanged" in out


@pytest.mark.model
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ask", "   "), "empty"),
        (("ask", "x" * 100_000), "limit"),
        (("ask",), "give a question"),
        (("ask", ALBANESE, "--top-k", "0"), "top_k"),
        (("ask", ALBANESE, "--date-from", "April"), "ISO 8601"),
        (("delete", "no-such-doc"), "no document"),
        (("ingest", "/no/such/path"), "no such file"),
    ],
)
def test_bad_input_exits_2_with_one_line(run, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    run("ingest", str(SEEDS))
    code, _, err = run(*args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.model
@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        ("RAG_RERANK", "maybe", "bad setting RAG_RERANK"),
        ("RAG_TOP_K", "abc", "bad setting RAG_TOP_K"),
    ],
)
def test_bad_setting_is_a_one_line_error(
    run,
    monkeypatch: pytest.MonkeyPatch,
    env: str,  # type: ignore[no-untyped-def]
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(env, value)
    code, _, err = run("ask", ALBANESE)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.model
def test_unusable_files_are_refused_and_the_index_kept(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("ingest", str(SEEDS))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "blob.txt").write_bytes(b"\x00\xff" * 500)
    (bad / "broken.jsonl").write_text('[1]\n{"id": "x"}\n')
    code, _, err = run("ingest", str(bad))
    assert code == 2 and "skipped" in err and "nothing to ingest" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run("ingest", str(empty))
    assert code == 2 and "no supported files" in err
    code, out, _ = run("documents")
    assert "000_a842a3da874e1a7d.txt" in out and f"{SEED_ARTICLES} document(s)" in out


@pytest.mark.model
def test_batch_questions_echo_ids_and_report_bad_lines(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("ingest", str(SEEDS))
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"id": "q1", "question": ALBANESE})
        + "\nnot json\n"
        + json.dumps({"id": "q3", "question": ""})
        + "\n"
    )
    code, out, _ = run("ask", "--questions", str(questions))
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [x["id"] for x in lines] == ["q1", None, "q3"]
    assert "natural candidate" in lines[0]["answer"]
    assert "error" in lines[1] and "empty" in lines[2]["error"]["message"]


@pytest.mark.model
def test_search_stats_documents_delete(run) -> None:  # type: ignore[no-untyped-def]
    run("ingest", str(SEEDS))
    code, out, _ = run("search", "natural candidate second pillar", "--json")
    assert code == 0 and json.loads(out)[0]["doc_id"] == "000_a842a3da874e1a7d.txt"
    code, out, _ = run("stats", "--json")
    assert json.loads(out)["counts"]["articles"] == SEED_ARTICLES
    code, out, _ = run("delete", "000_a842a3da874e1a7d.txt")
    assert code == 0
    code, out, _ = run("documents")
    assert f"{SEED_ARTICLES - 1} document(s)" in out and "000_a842a3da874e1a7d.txt" not in out


@pytest.mark.model
def test_console_script_runs_as_a_real_process(tmp_path: Path) -> None:
    exe = shutil.which("rag", path=str(Path(sys.executable).parent)) or shutil.which("rag")
    assert exe, "the rag console script is not installed"
    env = {**os.environ, "RAG_INDEX_DIR": str(tmp_path / "index")}
    done = subprocess.run(
        [exe, "ingest", str(SEEDS)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [exe, "ask", ALBANESE], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and "natural candidate" in done.stdout
    assert done.stderr.strip() == ""


# -- what a newcomer types (issue 23); the hash embedder keeps these in the fast lane -------


HERALD = {
    "id": "herald-1",
    "title": "Little penguins return to Manly",
    "source": "AP",
    "date": "2024-04-10",
    "url": "https://example.org/penguins",
    "text": "Rangers counted 42 little penguins at Manly beach on Monday, the minister "
    "said. The colony is the last on the mainland near Sydney.",
}


def test_version_and_did_you_mean(hash_run, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("rag ")
    with pytest.raises(SystemExit) as done:
        cli.main(["aks", ALBANESE])
    err = capsys.readouterr().err
    assert done.value.code == 2 and "did you mean 'ask'?" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("value", "part"),
    [
        ("2024-13-01", "month 13"),
        ("2024-02-30", "day 30"),
        ("2024-4-9", "two digits"),
        ("24-04-09", "year"),
        ("2024-04-09T25:00", "time part"),
        ("last week", "YYYY-MM-DD"),
    ],
)
def test_a_bad_date_names_the_bad_part(hash_run, value: str, part: str) -> None:  # type: ignore[no-untyped-def]
    hash_run("ingest", str(SEEDS))
    code, _, err = hash_run("ask", ALBANESE, "--date-from", value)
    assert code == 2 and part in err and "--date-from" in err
    assert len(err.strip().splitlines()) == 1


def test_unquoted_questions_titles_sources_and_dates(hash_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "herald.jsonl").write_text(json.dumps(HERALD) + "\n")
    hash_run("ingest", str(SEEDS), str(tmp_path / "herald.jsonl"))
    code, out, err = hash_run(
        "ask",
        "How",
        "many",
        "little",
        "penguins",
        "did",
        "rangers",
        "count?",
        "--source",
        "ap",
        "--json",
    )  # unquoted; source "AP"
    assert code == 0, err
    assert json.loads(out)["question"] == "How many little penguins did rangers count?"
    code, out, err = hash_run("ask", "How many penguins?", "--source", "Reuters")
    assert code == 2 and "no article matches source='Reuters'" in err and "AP" in err

    code, out, _ = hash_run("documents")  # title first, then source, date and id
    assert code == 0 and "Little penguins return to Manly" in out
    assert "AP | 2024-04-10 | herald-1" in out and f"{SEED_ARTICLES + 1} document(s)" in out

    code, out, _ = hash_run("search", "little", "penguins", "Manly")
    assert code == 0 and out.startswith("1. Little penguins return to Manly (AP, 2024-04-10)")
    assert "retrieval rank" in out


def test_feedback_command_with_nothing_stored(hash_run) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = hash_run("feedback")
    assert code == 0 and "0 up, 0 down" in out
