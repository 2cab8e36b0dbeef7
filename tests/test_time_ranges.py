"""Time ranges and figures in news answers (issue #30 items 5, 6, 8; the caption of item 9).

"Latest" answers from the newest articles on the topic; a range with no article abstains with
``no_article_in_range`` and shows the newest earlier statement as ``closest``, never as the
answer; a count two outlets report on different days is answered with both, newest first; an
HTML figure caption is kept in the stored text as a caption (never quoted as an answer).
"""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from api import create_app
from rag.answering.grounding import key_terms
from rag.articles.html import parse_page
from rag.cli.view import render
from rag.engine import Engine
from rag.models import Article
from rag.newsparts import captions, quotable
from rag.text import split_sentences
from rag.time.phrases import find_time

AS_OF = date(2024, 4, 20)
OUTBREAK = [
    Article(
        "wire",
        "Lowmere outbreak sickens residents",
        "Health officials said the parasite outbreak in Lowmere has sickened 14 people. "
        'Mayor Ana Ruiz said the plant would be inspected. "We will find the cause," Ruiz said.',
        date="2024-03-04",
        source="Reuters",
    ),
    Article(
        "channel9",
        "Lowmere outbreak grows",
        "The parasite outbreak in Lowmere has sickened 19 people, officials said on Saturday. "
        '"The inspection found a cracked filter," Ruiz said.',
        date="2024-03-09",
        source="Channel 9",
    ),
    Article(
        "gazette",
        "Lowmere filter line back in service",
        "The Lowmere Water Authority said its repaired filter line was back in service.",
        date="2024-03-12",
        source="Gazette",
    ),
]


@pytest.fixture
def news_engine(hash_engine: Engine) -> Engine:
    hash_engine.ingest(OUTBREAK)
    return hash_engine


def test_a_range_with_no_article_shows_the_newest_earlier_statement(news_engine: Engine) -> None:
    answer = news_engine.ask("What did Ruiz say in April 2024?", as_of=AS_OF)
    assert answer.abstained and answer.reason == "no_article_in_range"
    assert answer.citations == () and answer.answer == ""  # the closest item is not the answer
    assert answer.closest and {c.doc_id for c in answer.closest} == {"channel9"}
    assert "cracked filter" in " ".join(c.quote for c in answer.closest)
    assert answer.to_dict()["closest"][0]["date"] == "2024-03-09"
    shown = render(answer)
    assert "No article is dated in the time the question names." in shown
    assert "Closest, before the range (not an answer to the question):" in shown


def test_this_month_with_no_article_is_the_same_abstention(news_engine: Engine) -> None:
    answer = news_engine.ask("What did Ruiz say this month?", as_of=AS_OF)
    assert answer.reason == "no_article_in_range" and answer.closest
    assert answer.time_filter is not None and answer.time_filter["from"] == "2024-04-01"


def test_a_range_before_every_article_abstains_without_a_closest_item(
    news_engine: Engine,
) -> None:
    answer = news_engine.ask("What did Ruiz say in February 2024?", as_of=AS_OF)
    assert answer.reason == "no_article_in_range" and answer.closest == ()  # not entity_not_found


def test_a_range_with_articles_still_answers_from_them(news_engine: Engine) -> None:
    answer = news_engine.ask("What did Ruiz say in March 2024?", as_of=AS_OF)
    assert not answer.abstained and answer.closest == ()


def test_an_undated_archive_answers_from_all_dates(hash_engine: Engine) -> None:
    """SQuAD-like text: "in 1895" is an event's year, not a publication date."""
    hash_engine.ingest([Article("x", "Radio", "Marconi sent the first radio signal in 1895.")])
    answer = hash_engine.ask("What did Marconi send in 1895?", as_of=AS_OF)
    assert answer.reason != "no_article_in_range" and answer.closest == ()
    assert answer.time_filter is not None and answer.time_filter["applied"] is False


def test_a_month_in_a_time_phrase_is_not_a_name_to_find() -> None:
    assert [t.text for t in key_terms("What did Reyes say in May 2025?")] == ["Reyes"]
    assert [t.text for t in key_terms("What did Theresa May say?")] == ["Theresa May"]


def test_latest_answers_from_the_newest_article_on_the_topic(news_engine: Engine) -> None:
    answer = news_engine.ask("What is the latest on the Water Authority?", as_of=AS_OF)
    assert not answer.abstained and answer.citations[0].doc_id == "gazette"


def test_now_asks_for_the_latest() -> None:
    found = find_time("Who is the union's president now?", AS_OF)
    assert found is not None and found.latest
    assert find_time("What has he done until now?", AS_OF) is None


def test_a_count_reported_on_two_days_is_answered_with_both_newest_first(
    news_engine: Engine,
) -> None:
    answer = news_engine.ask("How many people were sickened?", as_of=AS_OF)
    assert not answer.abstained
    assert [(c.doc_id, c.date) for c in answer.citations] == [
        ("channel9", "2024-03-09"),
        ("wire", "2024-03-04"),
    ]
    assert "19 people" in answer.citations[0].quote and "14 people" in answer.citations[1].quote


def test_the_api_returns_the_closest_item(news_engine: Engine) -> None:
    with TestClient(create_app(news_engine.settings, news_engine)) as client:
        body = client.post(
            "/ask", json={"question": "What did Ruiz say in April 2024?", "as_of": "2024-04-20"}
        ).json()
    assert body["reason"] == "no_article_in_range" and body["citations"] == []
    assert body["closest"][0]["doc_id"] == "channel9"


FIGURE = (
    "<html><head><title>Strike</title></head><body><article><h1>Strike goes on</h1>"
    "<figure><img src='a.jpg'><figcaption>Union treasurer Omar Haddad at the depot. "
    "(Metro One/Priyanka Das)</figcaption></figure>"
    "<p>The strike entered its fifth day on Monday as talks stalled again in the city.</p>"
    "<p>The union said it would meet the mediator again on Tuesday morning downtown.</p>"
    "</article></body></html>"
)


def test_an_html_figure_caption_is_kept_as_a_caption_never_quotable() -> None:
    text = parse_page(FIGURE).text
    assert "Omar Haddad at the depot" in text  # searchable, and a who-is last resort
    found = [text[s.start : s.end] for s in captions(text)]
    assert len(found) == 1 and "Omar Haddad" in found[0]
    quoted = [text[s.start : s.end] for s in quotable(text, split_sentences(text))]
    assert not [q for q in quoted if "Haddad" in q]
    assert any("fifth day" in q for q in quoted)
