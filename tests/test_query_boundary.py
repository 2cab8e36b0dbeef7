"""The engine as the one request boundary: a Query checked once, typed steps, one loader."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import grimp
import pytest
from fastapi.testclient import TestClient

from api import create_app
from rag.engine import Engine
from rag.errors import InputError, RagError
from rag.models import (
    API_NAMES,
    CLI_NAMES,
    Answered,
    CheckedQuery,
    Filters,
    Query,
    Retrieved,
)

ALBANESE = "What did Albanese say about Japan?"


def test_a_query_is_checked_once_into_the_values_the_engine_answers_with(
    hash_engine: Engine,
) -> None:
    query = Query(
        f"  {ALBANESE} ",
        filters=Filters(source="Reuters", date_from="2024-04-01", date_to=""),
        history=(("Who is Albanese?", "The prime minister."),),
        as_of="2024-04-12T08:00:00Z",
    )
    checked = hash_engine.check(query)
    assert checked.question == ALBANESE
    assert checked.top_k == hash_engine.settings.answering.top_k  # the default filled in
    assert checked.filters == Filters(source="Reuters", date_from="2024-04-01", date_to=None)
    assert checked.as_of == date(2024, 4, 12)
    assert checked.history == query.history
    assert hash_engine.check(checked) is checked  # a checked query is not checked again


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"question": "  "}, "the question is empty"),
        ({"question": "?!"}, "has no words"),
        ({"top_k": 0}, "top_k must be between 1 and"),
        ({"mode": "fuzzy"}, "mode must be one of hybrid, dense, bm25"),
        ({"filters": Filters(date_from="April")}, "filters.date_from:"),
        ({"filters": Filters(date_to="2024-02-30")}, "filters.date_to:"),
        ({"as_of": "2024-13-01"}, "as_of:"),
        ({"as_of": "soon", "names": CLI_NAMES}, "--as-of:"),
        ({"filters": Filters(date_from="April"), "names": CLI_NAMES}, "--date-from:"),
    ],
)
def test_bad_input_is_one_error_naming_the_field_as_the_caller_does(
    hash_engine: Engine, change: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError) as caught:
        hash_engine.check(replace(Query(ALBANESE, names=API_NAMES), **change))  # type: ignore[arg-type]
    assert message in caught.value.message


def test_the_steps_are_typed_events_retrieval_then_the_answer(hash_seed_engine: Engine) -> None:
    steps = list(hash_seed_engine.ask_steps(Query(ALBANESE, top_k=3)))
    assert [type(s) for s in steps] == [Retrieved, Answered]
    retrieved, answered = steps
    assert isinstance(retrieved, Retrieved) and isinstance(answered, Answered)
    assert answered.answer.passages == retrieved.passages and retrieved.passages
    # the library's shorthand (a question string and keywords) gives the same answer
    same = hash_seed_engine.ask(ALBANESE, top_k=3)
    assert same.answer == answered.answer.answer and same.citations == answered.answer.citations


def test_a_checked_query_answers_as_the_unchecked_one(hash_seed_engine: Engine) -> None:
    query = Query(ALBANESE, top_k=2, history=(("Who is Albanese?", ""),))
    checked: CheckedQuery = hash_seed_engine.check(query)
    a, b = hash_seed_engine.ask(query), hash_seed_engine.ask(checked)
    assert (a.answer, a.citations, a.resolved_question) == (
        b.answer,
        b.citations,
        b.resolved_question,
    )


def test_the_api_route_for_a_url_reads_nothing_from_the_servers_disk(hash_engine: Engine) -> None:
    """``remote_only``: a value that is not a web address is refused, never read as a path."""
    with pytest.raises(RagError):
        hash_engine.load_sources(["/etc/hostname"], remote_only=True)
    with pytest.raises(RagError):
        hash_engine.load_sources(["seeds"], remote_only=True)


def test_ready_says_what_serves_and_nothing_stale(hash_seed_engine: Engine) -> None:
    with TestClient(create_app(hash_seed_engine.settings, hash_seed_engine)) as c:
        ready = c.get("/ready").json()
    assert set(ready) == {"status", "model", "counts", "reranker"}
    assert ready["status"] == "ready" and ready["counts"]["articles"] > 0


INTERFACE_MUST_NOT_IMPORT = {
    "api.routes": (
        "rag.answering.conversation",
        "rag.time.phrases",
        "rag.time.dates",
        "rag.articles.remote",
    ),
    "api.server": ("rag.articles.loading", "rag.articles.remote"),
    "api.uploads": ("rag.articles.loading", "rag.articles.limits", "rag.articles.remote"),
    "rag.cli.commands": (
        "rag.answering.span",
        "rag.time.filter",
        "rag.time.phrases",
        "rag.time.dates",
        "rag.articles.remote",
        "rag.articles.watch",
    ),
    "rag.cli.view": ("rag.answering.span", "rag.time.filter"),
}


def test_the_api_and_the_cli_go_through_the_engine() -> None:
    """Imports inside functions count: the interfaces hand the engine a Query and print what
    it returns; parsing, conversation and loading stay behind it."""
    graph = grimp.build_graph("rag", "api")
    for module, forbidden in INTERFACE_MUST_NOT_IMPORT.items():
        imported = graph.find_modules_directly_imported_by(module)
        assert not imported & set(forbidden), (module, sorted(imported & set(forbidden)))
