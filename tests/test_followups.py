"""Follow-up questions (#30 item 3): what about X, and X?, pronouns, when/why, a complete
question, no history, a long history; over the engine, HTTP and `rag ask -c` (hash embedder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import create_app
from rag import runtime
from rag.answering.conversation import Turn, resolve, resolve_turn
from rag.articles.loading import load_paths
from rag.cli import commands as cli
from rag.engine import Engine
from rag.errors import InputError

OUTBREAK = Path(__file__).parent / "news" / "outbreak" / "articles"
WHO = Turn("Who is the county health officer?", "Dr. Wei Liu")


@pytest.fixture
def outbreak(hash_engine: Engine) -> Engine:
    hash_engine.ingest(load_paths([OUTBREAK]).articles)
    return hash_engine


def _quotes(answer) -> str:  # type: ignore[no-untyped-def]
    return " | ".join(c.quote for c in answer.citations)


def test_what_about_a_person_asks_the_new_speaker(outbreak: Engine) -> None:
    answer = outbreak.ask("What about the governor?", history=[Turn("What did the mayor say?")])
    assert answer.resolved_question == "What did the governor say?"
    assert "No family in this state" in _quotes(answer)


def test_what_about_a_thing_is_a_new_topic_of_the_same_speaker() -> None:
    assert resolve("What about the inspections?", [Turn("What did Hale say?")]) == (
        "What did Hale say about the inspections?"
    )
    assert resolve("What about Canada?", [Turn("What did Albanese say about Japan?")]) == (
        "What did Albanese say about Canada?"
    )
    assert resolve("And Australia?", [Turn("Who is Japan's defense minister?")]) == (
        "Who is Australia's defense minister?"
    )


def test_and_x_keeps_the_topic(outbreak: Engine) -> None:
    history = [Turn("What did Whitfield say about the bond?")]
    answer = outbreak.ask("And the council member?", history=history)
    assert answer.resolved_question == "What did the council member say about the bond?"
    assert "vote against the bond" in _quotes(answer)


def test_he_is_the_person_a_who_question_answered(outbreak: Engine) -> None:
    answer = outbreak.ask("What did he say about the children?", history=[WHO])
    assert answer.resolved_question == "What did Dr. Wei Liu say about the children?"
    assert answer.refers_to == "Dr. Wei Liu" and answer.to_dict()["refers_to"] == "Dr. Wei Liu"
    assert "most of those taken ill were children" in _quotes(answer)


def test_she_and_it_and_they_stand_for_the_last_answer() -> None:
    who = Turn("Who is the chief executive of the Water Authority?", "Priya Natarajan")
    assert resolve_turn("What did she say?", [who]).refers_to == "Priya Natarajan"
    plant = Turn("Which plant was the parasite found in?", "the Harlow Road treatment plant")
    got = resolve_turn("Who visited it on Thursday?", [plant])
    assert got.question == "Who visited the Harlow Road treatment plant on Thursday?"
    assert got.refers_to == "the Harlow Road treatment plant"
    union = Turn("Which union called the strike?", "Local 88")
    assert resolve("What did they demand?", [union]) == "What did Local 88 demand?"
    # a pronoun after a name the question gives itself is that name's
    assert resolve("Did Liu say he would resign?", [who]) == "Did Liu say he would resign?"


def test_when_was_that_and_why_ask_the_last_question_again() -> None:
    hospital = Turn("How many people were sent to hospital in the Marlow Bay outbreak?", "41")
    assert resolve("When was that?", [hospital]) == (
        "When were people sent to hospital in the Marlow Bay outbreak?"
    )
    strike = Turn("How many transit workers went on strike in Calder City?", "about 3,200")
    assert resolve("Why?", [strike]) == "Why did transit workers go on strike in Calder City?"
    road = Turn("Which road backed up on Friday?", "the Ring Road")
    assert resolve("When was that?", [road]) == "When did the Ring Road back up on Friday?"


def test_a_complete_question_keeps_no_old_topic(outbreak: Engine) -> None:
    history = [Turn("What did Ruiz say about the investigation?")]
    answer = outbreak.ask("What did Mayor Elena Ruiz say?", history=history)
    assert answer.resolved_question == "What did Mayor Elena Ruiz say?"


def test_and_what_did_x_say_keeps_the_time_phrase() -> None:
    history = [Turn("What did the mayor say before March 6?")]
    assert resolve("And what did Hale say?", history) == "What did Hale say before March 6?"
    assert resolve("And what did Hale say after May 1?", history) == (
        "And what did Hale say after May 1?"  # its own time: asked as it is
    )


@pytest.mark.parametrize("question", ["Why?", "When was that?", "What about the governor?"])
def test_a_follow_up_with_no_history_is_an_input_error(question: str) -> None:
    with pytest.raises(InputError, match="earlier question"):
        resolve(question, [])


def test_a_pronoun_with_nobody_to_stand_for_is_an_input_error() -> None:
    with pytest.raises(InputError, match="'he'"):
        resolve("What did he say?", [])
    with pytest.raises(InputError, match="'she'"):
        resolve("What did she say?", [Turn("How much is the bond?", "$60 million")])
    assert resolve("Is it safe to drink?", []) == "Is it safe to drink?"


def test_a_long_history_reads_only_the_last_turns() -> None:
    history = [Turn("What did Liu say?")] * 999 + [Turn("What did the mayor say?")]
    assert resolve("What about the governor?", history) == "What did the governor say?"


def test_http_follow_ups_never_500(outbreak: Engine) -> None:
    with TestClient(create_app(outbreak.settings, outbreak)) as client:
        turns = [{"question": "What did the mayor say?", "answer": "..."}] * 1000
        long = client.post("/ask", json={"question": "What about the governor?", "history": turns})
        assert long.status_code == 422 and "history" in long.text
        alone = client.post("/ask", json={"question": "Why?"})
        assert alone.status_code == 422 and "earlier question" in alone.json()["error"]["message"]
        streamed = client.post("/ask/stream", json={"question": "What did he say?"})
        assert streamed.status_code == 422 and "'he'" in streamed.json()["error"]["message"]
        ok = client.post(
            "/ask",
            json={"question": "What did he say about the children?", "history": [vars(WHO)]},
        )
        assert ok.status_code == 200 and ok.json()["refers_to"] == "Dr. Wei Liu"


def test_cli_continue_keeps_the_conversation_beside_the_index(
    outbreak: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_INDEX_DIR", str(outbreak.settings.storage.index_dir))
    monkeypatch.setattr(runtime, "load_embedder", lambda *a, **k: outbreak.embedder)
    assert cli.main(["ask", "What did the mayor say?", "--as-of", "2024-03-10"]) == 0
    capsys.readouterr()
    assert cli.main(["ask", "-c", "What about the governor?", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["resolved_question"] == "What did the governor say?"
    kept = Path(str(outbreak.settings.storage.index_dir) + "-conversation.json")
    assert [t["question"] for t in json.loads(kept.read_text())["turns"]] == [
        "What did the mayor say?",
        "What did the governor say?",
    ]
    # without -c a question starts a new conversation: "Why?" then has nothing to follow
    assert cli.main(["ask", "Who is the county health officer?"]) == 0
    assert cli.main(["ask", "Why?"]) != 0
    assert "earlier question" in capsys.readouterr().err


def test_pronouns_stand_only_for_what_they_can() -> None:
    plant = Turn("Which plant was the parasite found in?", "the Harlow Road treatment plant")
    assert resolve("Is it safe to drink the water?", [plant]) == "Is it safe to drink the water?"
    assert resolve("What did they say?", [plant]) == "What did they say?"  # a plant is not they
    union = Turn("What did the union say?", "The union said it would strike on Monday.")
    assert resolve("When will they strike?", [union]) == "When will the union strike?"
    assert resolve("Why did he quit?", [union]) == "Why did he quit?"  # a union is not he
    mayor = Turn("What did Mayor Calloway say about football?", "...")
    assert resolve("What did he say?", [mayor]) == "What did Mayor Calloway say?"


def test_the_resolved_check_reads_the_rewrite() -> None:
    from rag.evaluation.expectations import Expectations, Question, check
    from rag.models import Answer

    expect = Expectations(resolved=("governor",), not_resolved=("mayor",))
    q = Question(True, (), None, expect)

    def verdict(rewrite: str) -> bool:
        answer = Answer("What about the governor?", "", True, "x", 0.0, (), (), {}, rewrite)
        return next(c.passed for c in check(q, answer, {}, 0.5) if c.kind == "resolved")

    assert verdict("What did the governor say?")
    assert not verdict("What did the mayor say about the governor?")
    assert not verdict("What did Hale say?")


def test_what_about_after_a_question_without_a_speaker_swaps_the_like_part() -> None:
    assert resolve("What about the governor?", [Turn("Who is the mayor of Marlow Bay?")]) == (
        "Who is the governor of Marlow Bay?"
    )
    fire = Turn("How many people were hurt in the fire?")
    assert resolve("What about the flood?", [fire]) == "How many people were hurt in the flood?"
