"""Readers' verdicts: stored by POST /feedback, listed by GET /feedback and `rag feedback`,
counted in /metrics; the store itself refuses bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import create_app
from rag.cli import commands as cli
from rag.engine import Engine
from rag.errors import InputError
from rag.feedback import FeedbackStore, feedback_file
from rag.settings import Settings
from tests.conftest import ALBANESE


@pytest.fixture
def client(hash_seed_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(hash_seed_engine.settings, hash_seed_engine)) as c:
        yield c


def test_a_verdict_is_stored_listed_and_counted(
    client: TestClient, hash_seed_engine: Engine
) -> None:
    answer = client.post("/ask", json={"question": ALBANESE}).json()["answer"]
    posted = client.post("/feedback", json={"question": ALBANESE, "answer": answer, "rating": "up"})
    assert posted.status_code == 201, posted.text
    client.post(
        "/feedback", json={"question": "Who won?", "rating": "down", "comment": "nothing about it"}
    )
    listed = client.get("/feedback").json()
    assert [(f["rating"], f["question"]) for f in listed] == [
        ("down", "Who won?"),
        ("up", ALBANESE),
    ]
    assert listed[1]["answer"] == answer and listed[0]["comment"] == "nothing about it"
    assert [f["rating"] for f in client.get("/feedback?rating=up").json()] == ["up"]
    metrics = client.get("/metrics").text
    assert 'rag_feedback_total{rating="up"} 1.0' in metrics
    assert 'rag_feedback_total{rating="down"} 1.0' in metrics
    # the file outlives the app: a new store over the same index sees both
    assert FeedbackStore(feedback_file(hash_seed_engine.settings)).counts() == {"up": 1, "down": 1}


@pytest.mark.parametrize(
    "body",
    [
        {"question": ALBANESE, "rating": "sideways"},
        {"question": "", "rating": "up"},
        {"rating": "up"},
        {"question": ALBANESE, "rating": "up", "answer": "x" * 20_001},
        {"question": ALBANESE, "rating": "up", "extra": 1},
    ],
)
def test_bad_verdicts_are_a_clear_4xx(client: TestClient, body: dict[str, object]) -> None:
    response = client.post("/feedback", json=body)
    assert 400 <= response.status_code < 500
    assert set(response.json()["error"]) == {"code", "message"}
    assert client.get("/feedback").json() == []


def test_the_store_refuses_bad_input_naming_the_field(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite")
    assert store.recent() == [] and store.counts() == {"up": 0, "down": 0}
    with pytest.raises(InputError, match="rating"):
        store.add("meh", "q")
    with pytest.raises(InputError, match="question"):
        store.add("up", "   ")
    with pytest.raises(InputError, match="comment"):
        store.add("up", "q", comment="c" * 2001)
    saved = store.add("down", "  q  ", "a")
    assert (saved.question, saved.answer) == ("q", "a")
    assert store.recent(rating="down") == [saved]


def test_feedback_lives_beside_the_index_not_inside_it(tmp_path: Path) -> None:
    path = feedback_file(Settings(index_dir=tmp_path / "idx"))
    assert path.parent == tmp_path and "idx" in path.name


def test_rag_feedback_lists_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    store = FeedbackStore(feedback_file(Settings(index_dir=index)))
    store.add("up", ALBANESE, "… natural candidate … [1]")
    store.add("down", "Who won the cup?", comment="wrong article")
    assert cli.main(["feedback", "--index", str(index)]) == 0
    out = capsys.readouterr().out
    assert out.index("Who won the cup?") < out.index(ALBANESE)
    assert "down" in out and "wrong article" in out and "1 up, 1 down" in out
    assert cli.main(["feedback", "--index", str(index), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["rating"] for r in rows] == ["down", "up"]
