"""News as it is stored: headlines, datelines, bylines, captions, front matter, saved pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.articles.loading import html_article, load_paths
from rag.engine import Engine
from rag.models import Article
from rag.newsparts import quotable
from rag.settings import Settings
from rag.text import split_sentences
from tests.conftest import ALBANESE, SEEDS

NEWS = Path(__file__).parent / "news"
SITE_PAGES = NEWS / "site" / "news"

# Lines of the fixture files that are not answers: none of them may ever be quoted.
NOT_ANSWERS = [
    "Council approves new bridge over the Derwent",
    "By Sarah Whitfield",
    "Published: 9 April",
    "HOBART, April 9 (AAP)",
    "Photo shows the existing Tasman Bridge",
    "(AAP)",
    "Related coverage",
    "Tasman Bridge lanes to close",
    "Ferry trial extended",
    "Coral bleaching spreads to southern Great Barrier Reef",
    "Bleached staghorn coral",
    "Warmest February on record",
    "title:",
    "---",
    "Evacuations ordered as bushfire nears",
    "SYDNEY, Feb. 10, 2024 (Reuters)",
    "A firefighter watches the blaze",
    "(AP Photo/Rick Rycroft)",
    "Reporting by Lewis Jackson",
    "Ferry services resume after harbour strike",
    "Combined photo shows",
    "(Kyodo)",
    "Japan, U.S., Australia, Philippines hold drill",
]


def news_articles() -> list[Article]:
    """The fixture folder, the seed article and the feed's pages as saved files."""
    loaded = load_paths([NEWS / "files", SEEDS]).articles
    pages = [html_article(p.name, p.read_text("utf-8")) for p in sorted(SITE_PAGES.glob("*"))]
    return loaded + pages


def quotes(article: Article) -> list[str]:
    return [
        article.text[s.start : s.end] for s in quotable(article.text, split_sentences(article.text))
    ]


def test_titles_dates_sources_and_bylines_come_from_where_news_keeps_them() -> None:
    result = load_paths([NEWS / "files"])
    got = {a.doc_id: (a.title, a.date, a.source, a.author) for a in result.articles}
    assert got == {
        "bridge.txt": (
            "Council approves new bridge over the Derwent",
            "2024-04-09",
            "AAP",
            "Sarah Whitfield",
        ),
        "harbour.html": (
            "Ferry services resume after harbour strike",
            "2024-05-14",
            "Coastal Times",
            "Tom Okafor",
        ),
        "reef.md": (
            "Coral bleaching spreads to southern Great Barrier Reef",
            "2024-03-22",
            "Reef Monitor",
            "Priya Natarajan",
        ),
        "wildfire.txt": (
            "Evacuations ordered as bushfire nears Blue Mountains towns",
            "2024-02-10",
            "Reuters",
            None,
        ),
    }
    reef = next(a for a in result.articles if a.doc_id == "reef.md")
    assert reef.url == "https://news.example.org/reef/bleaching-south"
    assert reef.tags == ("environment", "reef")
    assert [w.split(":")[0] for w in result.warnings] == [str(NEWS / "files" / "bad-date.md")]
    assert "'next Tuesday'" in result.warnings[0] and "\n" not in result.warnings[0]


def test_front_matter_is_metadata_not_stored_text() -> None:
    [reef] = load_paths([NEWS / "files" / "reef.md"]).articles
    assert reef.text.startswith("# Coral bleaching") and "tags:" not in reef.text


def test_bad_front_matter_is_a_one_line_skip_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("---\ntitle: Fine\n---\nA body sentence.\n", "utf-8")
    (tmp_path / "yaml.md").write_text("---\ntitle: [unclosed\n---\nBody.\n", "utf-8")
    (tmp_path / "tags.md").write_text("---\ntags: {a: 1}\n---\nBody.\n", "utf-8")
    (tmp_path / "month.md").write_text("---\ndate: 2024-13-45\n---\nBody.\n", "utf-8")
    (tmp_path / "written.md").write_text("---\ndate: April 9, 2024\n---\nBody.\n", "utf-8")
    result = load_paths([tmp_path])
    assert [(a.title, a.date) for a in result.articles] == [("Fine", None), ("Body.", "2024-04-09")]
    assert len(result.warnings) == 3 and all("\n" not in w for w in result.warnings)
    assert "month.md: front matter has an impossible value (month" in result.warnings[0]
    assert "tags.md: front matter 'tags'" in result.warnings[1]
    assert "yaml.md: front matter is not valid YAML" in result.warnings[2]


def test_other_file_types_in_a_folder_get_one_warning_per_type(tmp_path: Path) -> None:
    (tmp_path / "story.txt").write_text("A story.", "utf-8")
    for name in ("a.pdf", "b.pdf", "c.docx"):
        (tmp_path / name).write_bytes(b"x")
    result = load_paths([tmp_path])
    assert [a.doc_id for a in result.articles] == ["story.txt"]
    assert [w.split(" file(s)")[0] for w in result.warnings] == ["1 .docx", "2 .pdf"]


def test_no_headline_caption_dateline_byline_or_link_is_quotable() -> None:
    for article in news_articles():
        for quote in quotes(article):
            assert quote == quote.strip() and quote in article.text
            bad = [part for part in NOT_ANSWERS if part in quote]
            assert not bad, f"{article.doc_id}: {quote!r} quotes {bad}"


def test_datelines_are_cut_off_and_the_sentence_kept() -> None:
    by_id = {a.doc_id: quotes(a) for a in news_articles()}
    assert by_id["bridge.txt"][0].startswith("The Hobart City Council approved a new pedestrian")
    assert by_id["wildfire.txt"][0].startswith("Firefighters ordered residents")
    cases = {
        "TOKYO, April 9 (Kyodo) \u2014 Japan said it would join.": "Japan said it would join.",
        "WASHINGTON (AP) \u2014 The Senate passed the bill.": "The Senate passed the bill.",
        "LONDON, Jan. 5 (Reuters) - Prices rose.": "Prices rose.",
        "NEW YORK -- Markets fell on Monday.": "Markets fell on Monday.",
        "U.S. officials said talks would resume.": "U.S. officials said talks would resume.",
    }
    for text, expected in cases.items():
        assert [text[s.start : s.end] for s in quotable(text, split_sentences(text))] == [expected]


def test_body_text_that_only_resembles_chrome_is_kept() -> None:
    long_paragraph = " ".join(["The ministry said exports rose for a third month."] * 8)
    text = (
        f"Exports rise again\n\n{long_paragraph} (Reuters)\n\n"
        "By the end of the year, the bridge will carry 4,000 cyclists a day.\n\n"
        "The image from the satellite showed damage to 40 buildings.\n\n"
        "Photographs of the scene were released on Monday."
    )
    kept = [text[s.start : s.end] for s in quotable(text, split_sentences(text))]
    assert "Exports rise again" not in kept
    assert kept.count("The ministry said exports rose for a third month.") == 8
    assert "By the end of the year, the bridge will carry 4,000 cyclists a day." in kept
    assert "The image from the satellite showed damage to 40 buildings." in kept
    assert "Photographs of the scene were released on Monday." in kept


def test_the_seed_article_loses_only_its_caption_and_related_list() -> None:
    [seed] = load_paths([SEEDS / "000_a842a3da874e1a7d.txt"]).articles
    dropped = [
        seed.text[s.start : s.end]
        for s in split_sentences(seed.text)
        if seed.text[s.start : s.end] not in quotes(seed)
    ]
    assert [d[:20] for d in dropped] == [
        "Combined photo shows",
        "(Kyodo)",
        "Related coverage:",
        "Japan, U.S., Austral",
    ]


def test_squad_style_paragraphs_keep_every_sentence() -> None:
    data = json.loads((Path(__file__).parent / "data" / "squad-mini.json").read_text("utf-8"))
    for entry in data["data"]:
        text = "\n\n".join(p["context"] for p in entry["paragraphs"])
        assert quotable(text, split_sentences(text)) == split_sentences(text)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "TOKYO, April 9 (Kyodo) \u2014 ",
                "By Jane Smith",
                "Photo shows a bridge. (AP)",
                "\n",
                "\n\n",
                "Related coverage:",
                "---",
                "title: x",
                "# Head",
                "The council met.",
                " (Reuters) - ",
                "Prices rose 5 percent.",
                "- [Link](http://x)",
                "Mr. Lee said no. ",
                "WASHINGTON -- ",
                " ",
            ]
        ),
        max_size=30,
    )
)
def test_quotable_spans_are_ordered_verbatim_parts_of_their_sentences(parts: list[str]) -> None:
    text = "".join(parts)
    sentences = split_sentences(text)
    kept = quotable(text, sentences)
    assert kept == sorted(kept, key=lambda s: s.start)
    for span in kept:
        [home] = [s for s in sentences if s.start <= span.start and s.end == span.end]
        assert (
            span.start < span.end
            and text[span.start : span.end].strip() == text[span.start : span.end]
        )
        assert home.start <= span.start


def test_answers_never_quote_page_chrome(hash_engine: Engine) -> None:
    hash_engine.ingest(news_articles())
    questions = [
        "Council approves new bridge over the Derwent",
        "What did the council approve?",
        "Who wrote about the bridge?",
        "Photo of the Tasman Bridge at dusk",
        "Related coverage",
        "Coral bleaching spreads to southern Great Barrier Reef",
        "Who is Japan's defense minister?",
        "Warmest February on record",
        "Ferry services resume after harbour strike",
        "Reporting by Lewis Jackson",
    ]
    texts = {a.doc_id: a.text for a in news_articles()}
    for question in questions:
        for c in hash_engine.ask(question).citations:
            assert texts[c.doc_id][c.start : c.end] == c.quote
            assert not [p for p in NOT_ANSWERS if p in c.quote], (question, c.quote)
    docs = {d["doc_id"]: d for d in hash_engine.documents()}
    assert docs["bridge.txt"]["title"] == "Council approves new bridge over the Derwent"
    assert docs["reef.md"]["date"] == "2024-03-22" and docs["reef.md"]["source"] == "Reef Monitor"


@pytest.mark.model
def test_real_model_answers_from_the_body_not_the_headline(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(Settings(index_dir=tmp_path / "index"), embedder)
    engine.ingest(news_articles())
    # the headline used to be quoted here with confidence 1.0; now it never is (the scorer
    # abstains on this wording: its stemmer does not match "approve" with "approved")
    assert "Council approves" not in engine.ask("What did the council approve?").answer
    council = engine.ask("What did the Hobart City Council approve?")
    assert "pedestrian bridge" in council.answer and "$120 million" in council.answer
    assert council.answer.startswith("The Hobart City Council")
    first = council.citations[0]
    assert (first.title, first.date) == (
        "Council approves new bridge over the Derwent",
        "2024-04-09",
    )
    kihara = engine.ask("Who is Japan's defense minister?")
    assert "Combined photo" not in kihara.answer and "Kihara" in kihara.answer
    assert "natural candidate" in engine.ask(ALBANESE).answer
    reef = engine.ask("How much of the southern reef is bleached?")
    assert "40 percent" in reef.answer and "title:" not in reef.answer
