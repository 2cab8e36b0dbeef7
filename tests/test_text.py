from hypothesis import given, settings
from hypothesis import strategies as st

from rag.text import content_terms, split_sentences
from tests.helpers import assert_sentences_cover


def _sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


def test_sentences_respect_abbreviations_and_quotes() -> None:
    text = (
        "U.S. Defense Secretary Lloyd Austin met Mr. Smith in Washington. "
        'He said "it went well." Then they left!\n\nA new paragraph starts here'
    )
    assert _sentences(text) == [
        "U.S. Defense Secretary Lloyd Austin met Mr. Smith in Washington.",
        'He said "it went well."',
        "Then they left!",
        "A new paragraph starts here",
    ]


def test_numbers_after_no_do_not_end_a_sentence() -> None:
    assert _sentences("It reached No. 1 in May. Then it fell.") == [
        "It reached No. 1 in May.",
        "Then it fell.",
    ]


def test_line_breaks_end_a_sentence_unless_the_line_carries_on() -> None:
    assert _sentences("Headline without period\nBody text. More") == [
        "Headline without period",
        "Body text.",
        "More",
    ]
    # a hard-wrapped line, and a formula's subscript on its own line (as in SQuAD's "O\n2")
    assert _sentences("The prime\nminister spoke. Pure O\n2 burns\n\nNext") == [
        "The prime\nminister spoke.",
        "Pure O\n2 burns",
        "Next",
    ]
    # numbered list items and lines after closing punctuation still start anew
    assert _sentences("Steps:\n1. mix\n2) bake\nthe end.\nthen rest") == [
        "Steps:",
        "1. mix",
        "2) bake\nthe end.",
        "then rest",
    ]


@given(st.text(alphabet=st.sampled_from(list("ab .!?\n\"'U.S")), max_size=200))
@settings(max_examples=200)
def test_sentence_spans_are_exact_trimmed_and_ordered(text: str) -> None:
    spans = split_sentences(text)
    assert_sentences_cover(text, spans)  # nothing but whitespace is left out


def test_content_terms_drop_stopwords_and_stem() -> None:
    terms = content_terms("What did the elections in Japan's cities say?")
    assert terms == content_terms("election Japan city")
    assert "the" not in terms and "what" not in terms


def test_word_key_is_the_same_for_copies_differing_in_case_and_punctuation() -> None:
    from rag.text import word_key

    assert word_key('"We will," Okafor said.') == word_key("we will Okafor said")
    assert word_key("We will.") != word_key("We won't.")
