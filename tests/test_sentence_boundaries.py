"""Sentence boundaries around abbreviations, initials and names spelled with "!" (issue #31,
item 4), and the news layouts the splitter must keep; every span is checked to be verbatim."""

from hypothesis import given, settings
from hypothesis import strategies as st

from rag.text import split_sentences
from tests.helpers import assert_sentences_cover


def _sentences(text: str) -> list[str]:
    spans = split_sentences(text)
    # offsets are exact: each span is the sentence itself, trimmed, in order, and only
    # whitespace lies between them
    rest = text
    for span in spans:
        piece = text[span.start : span.end]
        assert piece == piece.strip() and piece
        before, found, rest = rest.partition(piece)
        assert found and not before.strip()
    assert not rest.strip()
    return [text[s.start : s.end] for s in spans]


def test_saints_circa_and_number_abbreviations_do_not_end_a_sentence() -> None:
    # the cuts issue #31 found on SQuAD articles
    assert _sentences(
        "The choir sang at Trinity-St. Paul's Centre in Toronto. It seats 700. "
        "The city had ca. 22,000 people in 1800. By 1939, c. 1,300,000 people lived there."
    ) == [
        "The choir sang at Trinity-St. Paul's Centre in Toronto.",
        "It seats 700.",
        "The city had ca. 22,000 people in 1800.",
        "By 1939, c. 1,300,000 people lived there.",
    ]
    assert _sentences(
        'He prayed "into your hands I commit my spirit" (Ps. 31:5), as the dying do. '
        "It reached No. 4 in Vol. 2 and Vol. XIV. No. The answer was no."
    ) == [
        'He prayed "into your hands I commit my spirit" (Ps. 31:5), as the dying do.',
        "It reached No. 4 in Vol. 2 and Vol. XIV.",
        "No.",
        "The answer was no.",
    ]
    assert _sentences("She was born on 10 July [O.S. 28 June] 1856. She left St. Louis.") == [
        "She was born on 10 July [O.S. 28 June] 1856.",
        "She left St. Louis.",
    ]


def test_names_spelled_with_an_exclamation_mark_stay_whole() -> None:
    assert _sentences(
        "The festival EAT! Vancouver opened on Friday. She joined Yahoo! News in 2010. "
        "He watched E! News and Jeopardy! Later he slept. It worked! Then it broke."
    ) == [
        "The festival EAT! Vancouver opened on Friday.",
        "She joined Yahoo! News in 2010.",
        "He watched E! News and Jeopardy! Later he slept.",
        "It worked!",
        "Then it broke.",
    ]


def test_titles_and_initials_stay_with_the_name() -> None:
    assert _sentences(
        "Lyndon B. Johnson met J. P. Morgan and Dr. Who at Mt. Kenya. Gen. Smith and Sen. Jones "
        "spoke. The Doctor of Pharmacy (Pharm. D.) degree takes years. "
        "The Daleks (a.k.a. The Mutants) aired, e.g. The Keys of Marinus."
    ) == [
        "Lyndon B. Johnson met J. P. Morgan and Dr. Who at Mt. Kenya.",
        "Gen. Smith and Sen. Jones spoke.",
        "The Doctor of Pharmacy (Pharm. D.) degree takes years.",
        "The Daleks (a.k.a. The Mutants) aired, e.g. The Keys of Marinus.",
    ]


def test_an_abbreviation_ends_a_sentence_before_a_usual_sentence_opener() -> None:
    # pySBD's rule: an initial, an acronym or "Inc." ends a sentence when the next word is one
    # that starts sentences, and not before a name ("the U.S. Army", "6 p.m. Eastern")
    assert _sentences(
        "She moved to the U.S. The U.S. Army hired her. It used the Saturn V. It flew. "
        "Disney renamed it ABC Inc. In 1996 it grew. They met at 6 p.m. Eastern time. "
        "Work, sleep, etc. As a result, n is not prime if 2 divides n. This is known."
    ) == [
        "She moved to the U.S.",
        "The U.S. Army hired her.",
        "It used the Saturn V.",
        "It flew.",
        "Disney renamed it ABC Inc.",
        "In 1996 it grew.",
        "They met at 6 p.m. Eastern time.",
        "Work, sleep, etc.",
        "As a result, n is not prime if 2 divides n.",
        "This is known.",
    ]


def test_news_datelines_quotes_bylines_and_headlines() -> None:
    text = (
        "Port strike ends after two weeks\n"
        "By Jane Smith and Ian Doe, Reuters\n\n"
        "WASHINGTON (Reuters) \u2014 U.S. officials said on Monday the strike was over. "
        '"Is it really over?" asked Mr. O\'Neill. "We won!" the union said. '
        "\u201cNo more,\u201d Ms. Lee said. Talks resume on Jan. 5 at 10 a.m.\n\n"
        "Related coverage\n"
        "Dockers vote on the offer"
    )
    assert _sentences(text) == [
        "Port strike ends after two weeks",
        "By Jane Smith and Ian Doe, Reuters",
        "WASHINGTON (Reuters) \u2014 U.S. officials said on Monday the strike was over.",
        # a quote ending in ?" or !" carries on into its attribution
        '"Is it really over?" asked Mr. O\'Neill.',
        '"We won!" the union said.',
        "\u201cNo more,\u201d Ms. Lee said.",
        "Talks resume on Jan. 5 at 10 a.m.",
        "Related coverage",
        "Dockers vote on the offer",
    ]
    # a quote that ends in an abbreviation still ends the sentence
    assert _sentences('She said "ask Mr." Then she left.') == [
        'She said "ask Mr."',
        "Then she left.",
    ]
    assert _sentences('"Why?" Nobody knew. "Stop!" He ran.') == [
        '"Why?"',
        "Nobody knew.",
        '"Stop!"',
        "He ran.",
    ]


_TOKENS = [
    "St.", "ca.", "c.", "No.", "Vol.", "1", "XIV", "The", "It", "EAT!", "Yahoo!", "U.S.",
    "J.", "Inc.", "p.m.", "word", "word.", "word!", "?", '"', "(", ")", "\u2014", "-", "\n",
    "\n\n", "Trinity-St.", "[O.S.", "e.g.",
]  # fmt: skip


@given(st.lists(st.sampled_from(_TOKENS), max_size=40), st.sampled_from([" ", "  ", "\t"]))
@settings(max_examples=300)
def test_spans_stay_verbatim_around_abbreviations(tokens: list[str], gap: str) -> None:
    text = gap.join(tokens)
    spans = split_sentences(text)
    assert_sentences_cover(text, spans)
    # a window of the text gives the same sentences as the whole text cut to that window
    assert split_sentences(text, 0, len(text)) == spans
