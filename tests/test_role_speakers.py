"""A speaker asked about by role is the person the articles name in it, answered as for the
name (issue #30, item 7)."""

from __future__ import annotations

from rag.engine import Engine
from rag.models import Article

TV = (
    "Governor Thomas Hale visited the treatment plant on Thursday.\n\n"
    "Water Authority chief executive Priya Natarajan said the authority would accept the audit "
    "the council had asked for.\n\n"
    "Council member Andre Booker said he would vote against the bond unless the records were "
    "audited."
)
PROFILE = (
    "Natarajan, the authority's chief executive, resigned on Friday.\n\n"
    '"I asked for new filters in my first budget, and I asked again every year," Natarajan '
    "says.\n\n"
    "Mayor Elena Ruiz said Natarajan's resignation was the right decision for the city.\n\n"
    "Natarajan insists the crack could not have been seen in a routine inspection. "
    '"Our engineers followed every procedure the manufacturer gave us," she says.'
)


def _engine(hash_engine: Engine) -> Engine:
    hash_engine.ingest(
        [
            Article("tv", "Governor pledges money", TV, date="2024-03-07"),
            Article("profile", "The engineer who warned", PROFILE, date="2024-03-09"),
        ]
    )
    return hash_engine


def test_a_role_with_an_organisation_name_finds_all_the_persons_statements(
    hash_engine: Engine,
) -> None:
    answer = _engine(hash_engine).ask("What did the Water Authority chief executive say?")
    assert not answer.abstained, answer.reason
    quotes = " ".join(c.quote for c in answer.citations)
    assert "accept the audit" in quotes and "new filters" in quotes
    assert "followed every procedure" in quotes  # "she": the nearest person, Natarajan
    assert "right decision" not in quotes  # the mayor's words about her


def test_a_role_without_a_classic_title_noun_is_resolved(hash_engine: Engine) -> None:
    answer = _engine(hash_engine).ask("What did the council member say about the bond?")
    assert not answer.abstained, answer.reason
    assert any("vote against the bond" in c.quote for c in answer.citations)


def test_who_is_reads_a_two_word_title_before_the_name(hash_engine: Engine) -> None:
    answer = _engine(hash_engine).ask("Who is the chief executive of the Water Authority?")
    assert not answer.abstained, answer.reason
    c = answer.citations[0]
    assert c.answer_start is not None and c.answer_end is not None
    assert TV[c.answer_start : c.answer_end] == "Priya Natarajan"
