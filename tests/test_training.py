"""Training: the feature schema in the scorer file, training/serving parity, `rag train`.

Fast except the tests marked ``train`` (they fine-tune rerankers on the real model).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pytest

from rag.answering.features import SENTENCE_SCHEMA
from rag.answering.scoring import CONFIDENCE_SCHEMA, Scorer, load_scorer
from rag.cli import commands as cli
from rag.engine import Engine
from rag.errors import ModelFileError
from rag.evaluation.datasets import EvalItem, load_dataset
from rag.evaluation.runner import cached_engine
from rag.runtime.embedding import HashEmbedder, SentenceTransformerEmbedder
from rag.settings import SHIPPED_RERANKER, SHIPPED_SCORER, Settings
from rag.training.candidates import collect, fold_of
from rag.training.scorer_fitting import choose_threshold, fit_linear
from tests.helpers import ALBANESE, SQUAD_MINI


@dataclass(frozen=True)
class RecordingScorer(Scorer):
    """The shipped scorer, keeping every feature matrix and article column serving scores."""

    seen: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def confidence(
        self,
        features: np.ndarray,
        scores: np.ndarray,
        articles: np.ndarray,
        cross: np.ndarray | None = None,
    ) -> float:
        self.seen.append((features.copy(), np.asarray(articles).copy()))
        return super().confidence(features, scores, articles, cross)


def _recording(scorer: Scorer) -> RecordingScorer:
    return RecordingScorer(**{f.name: getattr(scorer, f.name) for f in fields(scorer)})


def _scorer_json(tmp_path: Path, change: object) -> Path:
    raw = json.loads(SHIPPED_SCORER.read_text("utf-8"))
    change(raw)  # type: ignore[operator]
    path = tmp_path / "scorer.json"
    path.write_text(json.dumps(raw))
    return path


def test_the_shipped_scorer_file_names_every_feature_of_the_schema() -> None:
    raw = json.loads(SHIPPED_SCORER.read_text("utf-8"))
    assert list(raw["features"]) == list(SENTENCE_SCHEMA.names)
    assert list(raw["confidence"]["features"]) == list(CONFIDENCE_SCHEMA.names)
    assert raw["schema"]["features"] == SENTENCE_SCHEMA.digest
    scorer = load_scorer.__wrapped__(SHIPPED_SCORER)
    assert scorer.weights == tuple(raw["features"][n] for n in SENTENCE_SCHEMA.names)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda raw: raw["features"].update(lexical=raw["features"].pop("lex")),
            "missing lex; unknown lexical",
        ),
        (lambda raw: raw["features"].pop("speaker"), "missing speaker"),
        (lambda raw: raw["confidence"]["features"].update(extra=1.0), "unknown extra"),
        (lambda raw: raw["rerank"]["confidence"]["features"].pop("max_cross"), "missing max_cross"),
        (lambda raw: raw["schema"].update(features="0" * 16), "another feature schema"),
        (lambda raw: raw.pop("schema"), "another feature schema"),
        (lambda raw: raw.pop("threshold"), "cannot read the scorer file"),
    ],
)
def test_scorer_files_for_other_features_are_refused(
    tmp_path: Path, change: object, message: str
) -> None:
    path = _scorer_json(tmp_path, change)
    with pytest.raises(ModelFileError, match=message) as caught:
        load_scorer.__wrapped__(path)
    assert "\n" not in caught.value.message and "rag train" in caught.value.message
    with pytest.raises(ModelFileError):
        Engine(Settings(index_dir=tmp_path / "index", scorer_path=path), HashEmbedder())


def test_the_cli_refuses_a_bad_scorer_file_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "scorer.json"
    path.write_text("{not json")
    monkeypatch.setenv("RAG_SCORER_PATH", str(path))
    assert cli.main(["stats", "--index", str(tmp_path / "index")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read the scorer file") and err.count("\n") == 1


def test_training_scores_the_candidates_that_serving_scores(hash_seed_engine: Engine) -> None:
    recording = _recording(hash_seed_engine.scorer)
    engine = Engine(hash_seed_engine.settings, hash_seed_engine.embedder, recording)
    questions = [
        ALBANESE,
        "When was the partnership formed?",
        "What is the second pillar of AUKUS focused on?",
    ]
    for n, question in enumerate(questions):
        item = EvalItem(f"q{n}", question, ("natural candidate",), None, (), True)
        training = collect(engine, item)
        assert training is not None and len(training.rows) > 1
        answer = engine.ask(question)
        served_features, served_articles = recording.seen[-1]
        assert np.array_equal(served_features, training.features)
        assert np.array_equal(served_articles, training.articles)
        # the training side's best candidate is the sentence serving quotes first
        best = training.rows[int(np.argmax(recording.scores(training.features)))]
        start, end = engine.snapshot().sentence_span(best)
        if not answer.abstained:
            assert (answer.citations[0].start, answer.citations[0].end) == (start, end)


def test_threshold_choice_meets_both_targets_with_the_most_room() -> None:
    inside = [(True, 0.9)] * 95 + [(True, 0.1)] * 5
    outside = [(False, 0.95)] * 2 + [(False, 0.05)] * 98
    # 0.1 answers every in-corpus question and only the 2% confident out-of-corpus ones
    assert choose_threshold(inside + outside) == (0.1, 1.0, 0.02)
    noisy = [(False, 0.5)] * 10 + [(False, 0.05)] * 90
    # 0.1 would answer 12% of out-of-corpus questions: 0.9 keeps 95% answered and 2% false
    assert choose_threshold(inside + outside + noisy)[0] == 0.9


def test_a_fitted_scorer_round_trips_through_its_file(tmp_path: Path) -> None:
    evalset = load_dataset(SQUAD_MINI, holdout=1, sample=None)
    engine = cached_engine(evalset, Settings(rerank=False), HashEmbedder(), tmp_path / "cache")
    groups = [g for g in (collect(engine, i) for i in evalset.items) if g is not None]
    scorer = fit_linear(groups, evalset.name)
    assert scorer.weights[SENTENCE_SCHEMA.column("speaker")] == 4.0  # fixed, not fitted
    path = tmp_path / "scorer.json"
    path.write_text(scorer.to_json())
    assert load_scorer.__wrapped__(path) == scorer


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--out", str(SHIPPED_SCORER.parent)), "inside the installed package"),
        (("--out", "{tmp}", "--folds", "1"), "folds, 2 or more"),
        (("--out", "{tmp}", "--folds", "1000"), "folds, 2 or more"),
        (("--out", "{tmp}", "--epochs", "0"), "1 or more"),
        (("--out", "{tmp}", "--sample", "-1"), "--sample"),
        (("--out", "{tmp}", "--layers", "0"), "--layers takes a number of layers from 1 to 6"),
        (("--out", "{tmp}", "--layers", "7"), "--layers takes a number of layers from 1 to 6"),
    ],
)
def test_bad_train_options_are_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    before = SHIPPED_SCORER.stat().st_mtime_ns, SHIPPED_RERANKER.stat().st_mtime_ns
    out = tmp_path / "out"
    argv = ["train", str(SQUAD_MINI), *(a.replace("{tmp}", str(out)) for a in args)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()
    assert (SHIPPED_SCORER.stat().st_mtime_ns, SHIPPED_RERANKER.stat().st_mtime_ns) == before


@pytest.mark.train
@pytest.mark.model
def test_cross_fitting_reads_each_question_with_a_reranker_that_did_not_train_on_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: SentenceTransformerEmbedder
) -> None:
    from rag.training import reranker_training
    from rag.training.cross_fitting import cross_fitted_logits

    evalset = load_dataset(SQUAD_MINI, holdout=1, sample=None)
    eng = cached_engine(evalset, Settings(rerank=False), embedder, tmp_path / "cache")
    groups = [g for g in (collect(eng, i) for i in evalset.items) if g is not None]
    trained_on: list[set[str]] = []
    real_train = reranker_training.train

    def spy(model, tokenizer, pairs, **kw):  # type: ignore[no-untyped-def]
        trained_on.append({p.question for p in pairs})
        return real_train(model, tokenizer, pairs, **kw)

    monkeypatch.setattr(reranker_training, "train", spy)
    held, logits = cross_fitted_logits(eng, eng.scorer, groups, epochs=1, folds=2)
    assert sorted(g.qid for g in held) == sorted(g.qid for g in groups)  # each once
    assert len(trained_on) == 2 and all(trained_on)
    for g, row in zip(held, logits, strict=True):
        assert len(row) == len(g.rows) and all(abs(x) < 1e6 for x in row)
        assert g.question.text not in trained_on[fold_of(g.qid, 2)]


@pytest.mark.train
@pytest.mark.model
def test_rag_train_writes_only_to_out_and_the_service_reads_what_it_wrote(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    embedder: SentenceTransformerEmbedder,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the session's model, instead of loading it once more
    monkeypatch.setattr(
        "rag.runtime.embedding.SentenceTransformerEmbedder", lambda *a, **k: embedder
    )
    before = SHIPPED_SCORER.stat().st_mtime_ns, SHIPPED_RERANKER.stat().st_mtime_ns
    out = tmp_path / "models"
    assert (
        cli.main(
            [
                "train",
                str(SQUAD_MINI),
                "--holdout",
                "1",
                "--out",
                str(out),
                "--folds",
                "2",
                "--epochs",
                "1",
                "--layers",
                "2",
                "--cache",
                str(tmp_path / "cache"),
            ]
        )
        == 0
    )
    assert "RAG_SCORER_PATH=" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["reranker.pt", "scorer.json"]
    assert (SHIPPED_SCORER.stat().st_mtime_ns, SHIPPED_RERANKER.stat().st_mtime_ns) == before
    scorer = load_scorer.__wrapped__(out / "scorer.json")
    assert scorer.rerank is not None and "fold rerankers" in scorer.meta["reranker_trained_on"]
    # --layers 2: a smaller cross-encoder, which the service rebuilds from the file alone
    assert torch_load(out / "reranker.pt")["depth"] == 2
    evalset = load_dataset(SQUAD_MINI, holdout=1, sample=None)
    settings = Settings(scorer_path=out / "scorer.json", reranker_path=out / "reranker.pt")
    engine = cached_engine(evalset, settings, embedder, tmp_path / "cache")
    assert engine.scorer == scorer and engine.reranker is not None
    question = next(i for i in evalset.items if i.in_corpus).question
    assert engine.ask(question).passages


def torch_load(path: Path) -> dict[str, object]:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)  # type: ignore[no-any-return]
