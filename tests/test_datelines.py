"""Datelines on their own line give the date and agency; one under the headline is not quoted
(issue #30, item 4). Tops of articles in the styles of a wire, a council bulletin and a paper."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.articles.loading import load_paths
from rag.newsparts import header, quotable
from rag.text import split_sentences

WIRE = (
    "Boil-water order for Marlow Bay\n\n"
    "MARLOW BAY, March 4, 2024 (AP) \u2014\n\n"
    "Health officials ordered residents to boil their tap water on Monday.\n"
)
BULLETIN = (
    "Council splits over emergency bond\n"
    "MARLOW BAY, March 4, 2024 -\n"
    "The City Council will vote next week on a $60 million bond.\n"
)
PAPER = (
    "Council splits over emergency bond\n"
    "MARLOW BAY, March 4, 2024 - The City Council will vote next week on a $60 million bond.\n"
)


@pytest.mark.parametrize(("text", "source"), [(WIRE, "AP"), (BULLETIN, None), (PAPER, None)])
def test_the_dateline_gives_the_date_and_agency(text: str, source: str | None) -> None:
    top = header(text)
    assert top.date == "2024-03-04"
    assert top.source == source
    assert top.headline is not None and top.headline == text.split("\n")[0]


@pytest.mark.parametrize("text", [WIRE, BULLETIN, PAPER])
def test_no_quote_holds_the_dateline_or_loses_the_first_sentence(text: str) -> None:
    quotes = [text[s.start : s.end] for s in quotable(text, split_sentences(text))]
    assert len(quotes) == 1
    assert "MARLOW BAY" not in quotes[0]
    assert quotes[0].startswith(("Health officials", "The City Council"))


def test_a_txt_file_with_a_dateline_alone_is_dated(tmp_path: Path) -> None:
    (tmp_path / "wire.txt").write_text(WIRE, encoding="utf-8")
    (article,) = load_paths([tmp_path]).articles
    assert (article.date, article.source) == ("2024-03-04", "AP")


def test_an_upper_case_label_alone_is_not_a_dateline() -> None:
    assert header("BREAKING NEWS\n\nThe council voted.").date is None
