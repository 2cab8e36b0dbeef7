"""A quotation that spans sentences is one statement, quoted whole (issue #30, item 2)."""

from __future__ import annotations

from rag.answering.quotations import whole_quotation
from rag.engine import Engine
from rag.models import Article

GAZETTE = (
    "Mayor Elena Ruiz apologised on Tuesday to the families hit by the outbreak.\n\n"
    '"I want to thank every family in this city for their patience. This should never have '
    'happened, and we will make sure it never happens again," Ruiz said at a news conference '
    "at City Hall.\n\n"
    "The number of confirmed cases rose to 63, the health department said."
)
MAGAZINE = (
    "Natarajan resigned on Friday.\n\n"
    "\u201cI am responsible for what happened. The people of this city trusted us, and we let "
    "them down,\u201d she said in her resignation letter.\n\n"
    "Booker said the inquiry should go on."
)


def _sentence(text: str, first_words: str, last_words: str) -> tuple[int, int]:
    start = text.index(first_words)
    return start, text.index(last_words, start) + len(last_words)


def test_the_sentence_after_the_opening_is_widened_back_to_the_opening_mark() -> None:
    start, end = whole_quotation(GAZETTE, *_sentence(GAZETTE, "This should", "City Hall."))
    assert GAZETTE[start:end].startswith('"I want to thank every family')
    assert GAZETTE[start:end].endswith("at City Hall.")
    # the opening sentence is widened on to the close and its attribution
    start, end = whole_quotation(GAZETTE, *_sentence(GAZETTE, '"I want', "patience."))
    assert GAZETTE[start:end].endswith("Ruiz said at a news conference at City Hall.")


def test_curly_marks_and_sentences_outside_quotations() -> None:
    start, end = whole_quotation(MAGAZINE, *_sentence(MAGAZINE, "The people", "letter."))
    assert MAGAZINE[start:end].startswith("\u201cI am responsible")
    outside = _sentence(MAGAZINE, "Booker", "go on.")
    assert whole_quotation(MAGAZINE, *outside) == outside
    # a quotation ending its sentence takes no next sentence with it
    text = 'Ruiz said: "We found it. We fixed it." Then she left.'
    start, end = whole_quotation(text, 0, text.index("it.") + 3)
    assert text[start:end] == 'Ruiz said: "We found it. We fixed it."'


def test_a_speaker_answer_quotes_the_whole_quotation_with_the_words_as_span(
    hash_engine: Engine,
) -> None:
    hash_engine.ingest(
        [
            Article("gazette", "Ruiz apologises", GAZETTE, date="2024-03-05"),
            Article("civic", "Natarajan resigns", MAGAZINE, date="2024-03-09"),
        ]
    )
    answer = hash_engine.ask("What did Ruiz say at the news conference?")
    assert not answer.abstained, answer.reason
    quote = next(c for c in answer.citations if "never happens again" in c.quote)
    assert quote.quote.startswith('"I want to thank every family')
    assert quote.answer_start is not None and quote.answer_end is not None
    article_span = GAZETTE[quote.answer_start : quote.answer_end]
    assert article_span.startswith("I want to thank") and article_span.endswith("happens again")
    answer = hash_engine.ask("What did Natarajan say?")
    assert any(c.quote.startswith("\u201cI am responsible") for c in answer.citations)
    assert not any("inquiry should go on" in c.quote for c in answer.citations)
