import json
from pathlib import Path

import pytest

from rag.articles.loading import load_paths
from rag.errors import InputError, NotFoundError


def test_plain_text_id_is_file_name_and_title_first_short_line(tmp_path: Path) -> None:
    (tmp_path / "story.txt").write_text("Short headline\n\nBody of the story.", "utf-8")
    [article] = load_paths([tmp_path]).articles
    assert article.doc_id == "story.txt"
    assert article.title == "Short headline"
    assert article.text == "Short headline\n\nBody of the story."


def test_long_first_line_gives_a_shortened_title(tmp_path: Path) -> None:
    (tmp_path / "long.txt").write_text("word " * 100, "utf-8")
    [article] = load_paths([tmp_path]).articles
    assert len(article.title) <= 151 and article.title.endswith("\u2026")


def test_html_drops_scripts_and_styles(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(
        "<html><head><title>Page title</title><style>p{color:red}</style></head><body>"
        "<script>alert('x')</script><p>First paragraph.</p><p>Second <b>bold</b> one.</p>"
        "</body></html>",
        "utf-8",
    )
    [article] = load_paths([tmp_path]).articles
    assert article.title == "Page title"
    assert article.text == "First paragraph.\n\nSecond bold one."


def test_json_and_jsonl_records_with_metadata(tmp_path: Path) -> None:
    record = {
        "id": "n1",
        "title": "T",
        "text": "Body.",
        "url": "http://x",
        "date": "2024-04-09",
        "source": "kyodo",
    }
    (tmp_path / "a.json").write_text(json.dumps([record]), "utf-8")
    (tmp_path / "b.jsonl").write_text(json.dumps({**record, "id": "n2"}) + "\n", "utf-8")
    articles = load_paths([tmp_path]).articles
    assert [a.doc_id for a in articles] == ["n1", "n2"]
    assert articles[0].source == "kyodo" and articles[0].date == "2024-04-09"


def test_mixed_folder_warns_per_bad_file_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Good article.", "utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "lines.jsonl").write_text(
        '{"id": "ok", "text": "Fine."}\n[1, 2]\n{"id": "x"}\nnot json\n' + "[" * 100_000, "utf-8"
    )
    result = load_paths([tmp_path])
    assert sorted(a.doc_id for a in result.articles) == ["good.txt", "ok"]
    joined = "\n".join(result.warnings)
    assert "binary" in joined and "UTF-8" in joined
    assert "not a JSON object" in joined and "'text'" in joined and "not valid JSON" in joined
    assert "lines.jsonl:5: not valid JSON (nested too deeply)" in joined


def test_empty_folder_and_missing_path_are_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no supported files"):
        load_paths([tmp_path])
    with pytest.raises(NotFoundError):
        load_paths([tmp_path / "nope"])


def test_bad_date_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"id": "a", "text": "x", "date": "yesterday"}))
    result = load_paths([tmp_path])
    assert not result.articles and "ISO 8601" in result.warnings[0]
