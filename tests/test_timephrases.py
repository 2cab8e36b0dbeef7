"""Time phrases: what each one means against a fixed as_of, and what they do to answers."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from api import create_app
from rag.cli.commands import main
from rag.cli.view import describe_time
from rag.engine import Engine
from rag.errors import InputError
from rag.models import Article, Filters
from rag.time.filter import narrow, without_time
from rag.time.phrases import TimeFilter, find_time, parse_as_of

AS_OF = date(2026, 12, 1)  # a Tuesday
MONDAY = date(2026, 11, 30)


def _range(question: str, as_of: date = AS_OF) -> tuple[str | None, str | None]:
    found = find_time(question, as_of)
    assert found is not None and found.applied, question
    return found.date_from, found.date_to


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What did Albanese say yesterday?", ("2026-11-30", "2026-11-30")),
        ("What happened today in Canberra?", ("2026-12-01", "2026-12-01")),
        ("What did Kihara say last week?", ("2026-11-23", "2026-11-29")),  # Monday to Sunday
        ("What did Kihara say this week?", ("2026-11-30", "2026-12-01")),  # ends at as_of
        ("What happened this month?", ("2026-12-01", "2026-12-01")),
        ("What happened last month?", ("2026-11-01", "2026-11-30")),
        ("What did Albanese say in March 2024?", ("2024-03-01", "2024-03-31")),
        ("What did Albanese say in March?", ("2026-03-01", "2026-03-31")),
        ("What has changed since January?", ("2026-01-01", "2026-12-01")),
        ("Who won the vote in 2023?", ("2023-01-01", "2023-12-31")),
        ("What happened on 9 April 2024?", ("2024-04-09", "2024-04-09")),
        ("What happened on April 9th, 2024?", ("2024-04-09", "2024-04-09")),
        ("What happened on 2024-04-09?", ("2024-04-09", "2024-04-09")),
        ("What happened between March and May 2024?", ("2024-03-01", "2024-05-31")),
        ("What happened between December and February 2024?", ("2023-12-01", "2024-02-29")),
        ("What happened between May and March 2024?", ("2023-05-01", "2024-03-31")),
        ("What happened from March to May 2024?", ("2024-03-01", "2024-05-31")),
        ("What did Kihara say before 2024?", (None, "2023-12-31")),
        ("What did Kihara say after March 2024?", ("2024-04-01", "2026-12-01")),
        ("What did Kihara say until 9 April 2024?", (None, "2024-04-09")),
        ("What happened in the past week?", ("2026-11-25", "2026-12-01")),  # rolling 7 days
        ("What happened in the last 3 days?", ("2026-11-29", "2026-12-01")),
        ("What happened in the past two months?", ("2026-10-02", "2026-12-01")),
        ("What happened last year?", ("2025-01-01", "2025-12-31")),
        ("What happened in 2026?", ("2026-01-01", "2026-12-01")),  # capped at as_of
    ],
)
def test_phrases_resolve_to_inclusive_ranges(
    question: str, expected: tuple[str | None, str | None]
) -> None:
    assert _range(question) == expected


@pytest.mark.parametrize(
    ("question", "as_of", "expected"),
    [
        ("What happened last week?", MONDAY, ("2026-11-23", "2026-11-29")),  # not the current one
        ("What happened this week?", MONDAY, ("2026-11-30", "2026-11-30")),
        ("What happened last month?", date(2025, 1, 15), ("2024-12-01", "2024-12-31")),
        ("What happened last week?", date(2025, 1, 2), ("2024-12-23", "2024-12-29")),
        ("What happened yesterday?", date(2025, 1, 1), ("2024-12-31", "2024-12-31")),
        ("What happened yesterday?", date(2024, 3, 1), ("2024-02-29", "2024-02-29")),  # leap year
        ("What happened last month?", date(2024, 3, 31), ("2024-02-01", "2024-02-29")),
        ("What happened last month?", date(2023, 3, 31), ("2023-02-01", "2023-02-28")),
        ("What happened in February?", date(2025, 6, 1), ("2025-02-01", "2025-02-28")),
        ("What happened on 29 February?", date(2025, 6, 1), ("2024-02-29", "2024-02-29")),
        ("What happened in the past month?", date(2024, 3, 31), ("2024-03-01", "2024-03-31")),
        # the most recent March not after as_of: this year's once March has begun, else last year's
        ("What happened in March?", date(2026, 2, 28), ("2025-03-01", "2025-03-31")),
        ("What happened in March?", date(2026, 3, 10), ("2026-03-01", "2026-03-10")),
        ("What happened since January?", date(2026, 1, 1), ("2026-01-01", "2026-01-01")),
    ],
)
def test_boundaries_of_weeks_months_and_years(
    question: str, as_of: date, expected: tuple[str, str]
) -> None:
    assert _range(question, as_of) == expected


@pytest.mark.parametrize(
    "question",
    [
        "What is the latest on AUKUS?",
        "What did Kihara say most recently?",
        "Which is the newest submarine?",
        "What is the most recent statement by Mao Ning?",
    ],
)
def test_latest_orders_without_filtering(question: str) -> None:
    found = find_time(question, AS_OF)
    assert found is not None and found.latest and not found.has_range


def test_latest_with_a_range_keeps_both() -> None:
    found = find_time("What is the latest from Kihara in March 2024?", AS_OF)
    assert found == TimeFilter("2024-03-01", "2024-03-31", "in March 2024", latest=True)


# dateparser's search_dates gets these wrong: months read into "may" and "march", a date out
# of "the 2023 election", one day for "last week"; a year after a possessive is no time either
@pytest.mark.parametrize(
    "question",
    [
        "What may happen to the second pillar?",
        "Who will march on Sunday?",
        "Who won the 2023 election?",
        "How many of the 3 ministers spoke?",
        "Who did the Broncos play in the last week of the regular season?",
        "What company was in its last year of discounts?",
        "Why did the Mayor resign?",
        "What did Kihara say about Japan?",
    ],
)
def test_words_that_are_not_time_phrases(question: str) -> None:
    assert find_time(question, AS_OF) is None


@pytest.mark.parametrize(
    "question",
    [
        "What happens next year?",
        "Who will lead in 2031?",
        "What is planned for next month?",
        "What happens tomorrow?",
        "What changes after 2026?",
    ],
)
def test_future_phrases_filter_nothing_and_say_why(question: str) -> None:
    found = find_time(question, AS_OF)
    assert found is not None and not found.applied
    assert found.date_from is not None and found.date_from > AS_OF.isoformat()
    assert "after the as_of date 2026-12-01" in (found.note or "")
    assert narrow(Filters(source="wire"), found) == Filters(source="wire")


@pytest.mark.parametrize(
    "question",
    ["March 2024?", "in March 2024", "Latest?", "  last week ", "9 April 2024", "Since 2023?"],
)
def test_a_question_that_is_only_a_date_is_refused(question: str) -> None:
    with pytest.raises(InputError, match="no words besides a time phrase"):
        find_time(question, AS_OF)


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("What happened on 30 February 2024?", "not a date in the calendar"),
        ("What did Okafor say on the 45th of November?", "not a date in the calendar"),
        ("What did Okafor say on November 45th?", "no month has a day 45"),
        ("What happened between May 2024 and March 2024?", "after it ends"),
    ],
)
def test_impossible_dates_are_explained(question: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        find_time(question, AS_OF)


@pytest.mark.parametrize(
    ("question", "as_of"),
    [
        ("What happened yesterday?", date.min),
        ("What happened in the past 999 years?", date(5, 1, 1)),
        ("What happens tomorrow?", date.max),
    ],
)
def test_ranges_past_the_calendar_are_input_errors(question: str, as_of: date) -> None:
    with pytest.raises(InputError, match="outside the calendar"):
        find_time(question, as_of)


def test_narrow_intersects_with_explicit_filters() -> None:
    march = find_time("What happened in March 2024?", AS_OF)
    assert narrow(Filters(date_from="2024-03-10T08:00:00Z"), march) == Filters(
        date_from="2024-03-10", date_to="2024-03-31"
    )
    assert narrow(Filters(), None) == Filters()
    with pytest.raises(InputError, match="outside the date filter"):
        narrow(Filters(date_from="2024-04-01"), march)


def test_as_of_is_checked_part_by_part() -> None:
    assert parse_as_of("2024-04-09", "as_of") == date(2024, 4, 9)
    assert parse_as_of("2024-04-09T23:30:00Z", "as_of") == date(2024, 4, 9)
    assert parse_as_of(None, "as_of") is None
    with pytest.raises(InputError, match="month 13"):
        parse_as_of("2024-13-01", "--as-of")
    with pytest.raises(InputError, match="not an ISO 8601 date"):
        parse_as_of("yesterday", "--as-of")


@pytest.mark.parametrize(
    ("question", "applied", "read_as"),
    [
        ("What did Kihara say last week?", True, "What did Kihara say?"),
        ("What did Kihara say last week?", False, "What did Kihara say?"),  # never in the text
        ("Yesterday, what did Kihara say?", True, "what did Kihara say?"),
        ("What did Kihara say in March 2024?", True, "What did Kihara say?"),
        ("Which lab burned in 1895?", False, "Which lab burned in 1895?"),  # may be the text's
        ("What is the latest on AUKUS?", True, "What is the latest on AUKUS?"),  # no range
    ],
)
def test_the_question_is_read_without_the_phrase_the_filter_stands_for(
    question: str, applied: bool, read_as: str
) -> None:
    time = find_time(question, AS_OF)
    assert time is not None
    time = time if applied else time.unapplied("no article is dated in that range")
    assert without_time(question, time) == read_as


def test_describe_is_one_line() -> None:
    found = find_time("What is the latest in March 2024?", AS_OF)
    assert found is not None
    assert describe_time(found.to_dict()) == (
        'Time: "in March 2024" = 2024-03-01 to 2024-03-31, newest first'
    )


# -- answers ----------------------------------------------------------------------------------
SAID = "Defense Minister Minoru Kihara said Japan would deepen defense cooperation with Australia"
ARTICLES = [  # the same statement, reported in three months
    Article(
        month, f"Kihara on defense, {month}", f"{SAID}. The talks were held in {place}.", date=day
    )
    for month, place, day in (
        ("jan", "Canberra", "2024-01-15"),
        ("mar", "Tokyo", "2024-03-12"),
        ("may", "Manila", "2024-05-20"),
    )
]


@pytest.fixture
def dated_engine(hash_engine: Engine) -> Engine:
    """Three short articles dated in January, March and May 2024; every answer shown."""
    hash_engine.settings = hash_engine.settings.model_copy(update={"abstain_threshold": 0.0})
    hash_engine.ingest(ARTICLES)
    return hash_engine


def test_a_month_in_the_question_cites_only_that_month(dated_engine: Engine) -> None:
    answer = dated_engine.ask(
        "What did Kihara say about defense cooperation in March 2024?", as_of=AS_OF
    )
    assert not answer.abstained
    assert {c.doc_id for c in answer.citations} == {"mar"}
    assert {p.doc_id for p in answer.passages} == {"mar"}
    assert answer.to_dict()["time_filter"] == {
        "from": "2024-03-01",
        "to": "2024-03-31",
        "phrase": "in March 2024",
        "latest": False,
    }


def test_latest_puts_the_newest_article_first(dated_engine: Engine) -> None:
    plain = dated_engine.ask("What did Kihara say about defense cooperation?", as_of=AS_OF)
    latest = dated_engine.ask(
        "What is the latest Kihara said about defense cooperation?", as_of=AS_OF
    )
    assert "time_filter" not in plain.to_dict()
    # one statement reported in three months: quoted once, from the newest article
    assert [c.doc_id for c in latest.citations] == ["may"]


def test_without_a_time_phrase_the_newest_copy_wins_a_tie(dated_engine: Engine) -> None:
    """The same sentence in three articles is one candidate: quoted once, from the newest."""
    for question in ("What did Kihara say about defense cooperation?", "Who is Kihara?"):
        answer = dated_engine.ask(question, as_of=AS_OF)
        assert [c.doc_id for c in answer.citations if SAID in c.quote] == ["may"], question


def test_as_of_decides_what_last_month_is(dated_engine: Engine) -> None:
    question = "What did Kihara say about defense cooperation last month?"
    assert {c.doc_id for c in dated_engine.ask(question, as_of=date(2024, 4, 2)).citations} == {
        "mar"
    }
    assert {c.doc_id for c in dated_engine.ask(question, as_of=date(2024, 2, 2)).citations} == {
        "jan"
    }


def test_a_range_with_no_dated_article_abstains_in_a_dated_archive(dated_engine: Engine) -> None:
    """Issue #30 item 6: not answered from other dates (rag.time.filter); nothing is before
    2019 here, so there is no closest item either (tests/test_time_ranges.py has one)."""
    answer = dated_engine.ask("What did Kihara say about defense cooperation in 2019?", as_of=AS_OF)
    assert answer.abstained and answer.reason == "no_article_in_range"
    assert answer.citations == () and answer.closest == ()
    assert answer.time_filter is not None and "no article is dated" in answer.time_filter["note"]
    assert answer.time_filter["from"] == "2019-01-01"


def test_a_date_only_question_is_a_clear_error(dated_engine: Engine) -> None:
    with pytest.raises(InputError, match="no words besides a time phrase"):
        dated_engine.ask("March 2024?", as_of=AS_OF)


def test_http_ask_takes_as_of_and_refuses_a_bad_one(dated_engine: Engine) -> None:
    question = "What did Kihara say about defense cooperation last month?"
    with TestClient(create_app(dated_engine.settings, dated_engine)) as client:
        body = client.post("/ask", json={"question": question, "as_of": "2024-04-02"}).json()
        assert {c["doc_id"] for c in body["citations"]} == {"mar"}
        assert body["time_filter"]["from"] == "2024-03-01"
        for path in ("/ask", "/ask/stream"):
            bad = client.post(path, json={"question": question, "as_of": "2024-02-30"})
            assert bad.status_code == 422
            assert "as_of" in bad.json()["error"]["message"]
        stream = client.post("/ask/stream", json={"question": question, "as_of": "2024-04-02"})
        assert '"time_filter"' in stream.text and "2024-03-31" in stream.text


def test_cli_as_of(dated_engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    index = str(dated_engine.settings.storage.index_dir)
    assert main(["ask", "--index", index, "--as-of", "2024-13-01", "What happened?"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--as-of" in err and "month 13" in err


def test_cli_shows_the_range_in_one_line(dated_engine: Engine) -> None:
    from rag.cli.commands import render

    answer = dated_engine.ask(
        "What did Kihara say about defense cooperation last month?", as_of=date(2024, 4, 2)
    )
    lines = render(answer).splitlines()
    assert lines[0] == 'Time: "last month" = 2024-03-01 to 2024-03-31'
    assert "[1]" in lines[1] and not any(line.startswith("Time:") for line in lines[1:])
