"""The cross-encoder reranker: shipped weights, training, and its place in answering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.answering.scoring import SCORER_FILE, load_scorer
from rag.engine import Engine
from rag.errors import ModelFileError
from rag.runtime.embedding import SentenceTransformerEmbedder
from rag.runtime.pairs import PairReading, scores_of
from rag.settings import Settings
from tests.conftest import ALBANESE


@pytest.fixture(scope="module")
def reranker(embedder: SentenceTransformerEmbedder):  # type: ignore[no-untyped-def]
    from rag.runtime.reranking import CrossEncoderReranker

    return CrossEncoderReranker(embedder)


@pytest.mark.model
@pytest.mark.parametrize(
    ("question", "answer", "distractor"),
    [
        (
            "In what year was the treaty signed?",
            "The treaty was finally signed in Vienna in 1815 after months of talks.",
            "The treaty talks in Vienna were attended by diplomats from many countries.",
        ),
        (
            "Who designed the new bridge?",
            "The bridge was designed by the engineer Maria Keller and opened last spring.",
            "The new bridge crosses the river where the old ferry used to run.",
        ),
        (
            "How many people live in the city?",
            "About 420,000 people live in the city, according to the latest census.",
            "The city lies on the coast and is known for its people's love of music.",
        ),
    ],
)
def test_shipped_reranker_prefers_the_sentence_that_answers(
    reranker, question: str, answer: str, distractor: str
) -> None:  # type: ignore[no-untyped-def]
    logits = scores_of(reranker.rerank(question, [distractor, answer]))
    assert logits[1] > logits[0]


@pytest.mark.model
def test_reranker_with_no_sentences(reranker) -> None:  # type: ignore[no-untyped-def]
    assert len(reranker.rerank("Anything?", [])) == 0


@pytest.mark.model
def test_reranker_reads_a_question_longer_than_its_window(reranker) -> None:  # type: ignore[no-untyped-def]
    question = "What did Albanese say about " + "AUKUS defence pillar cooperation " * 28
    logits = scores_of(reranker.rerank(question, ["Japan is a natural candidate.", "x" * 5000]))
    assert logits.shape == (2,) and np.isfinite(logits).all()


@pytest.mark.model
@pytest.mark.train
def test_training_moves_the_logits_towards_the_labels(
    embedder: SentenceTransformerEmbedder,
) -> None:
    from rag.runtime.reranking import PairModel
    from rag.training.reranker_training import PairGroup, train

    groups = [
        PairGroup(
            "What colour is the sky?", ("The grass is green.", "The sky is blue."), (False, True)
        ),
        PairGroup(
            "What colour is the grass?", ("The grass is green.", "The sky is blue."), (True, False)
        ),
    ] * 4
    shared = embedder.model[0].auto_model.encoder.layer[-1].output.dense.weight
    before = shared.detach().clone()
    model = PairModel(embedder.model[0].auto_model, trained_layers=1)
    losses = train(model, embedder.tokenizer, groups, epochs=3)
    assert losses[-1] < losses[0]
    assert before.equal(shared.detach())  # the embedder's own layers are untouched
    assert not before.equal(model.top[0].output.dense.weight.detach())  # the copy trained


@pytest.mark.model
@pytest.mark.train
def test_the_copied_layers_train_even_when_the_shared_model_is_frozen(
    embedder: SentenceTransformerEmbedder,
) -> None:
    """A frozen shared model (as a training script may make it) must not freeze the copies:
    that once trained only the heads, and the cross-encoder learned next to nothing."""
    import copy

    from rag.runtime.reranking import PairModel
    from rag.training.reranker_training import PairGroup, train

    bert = copy.deepcopy(embedder.model[0].auto_model).requires_grad_(False)
    model = PairModel(bert, trained_layers=1)
    before = model.top[0].output.dense.weight.detach().clone()
    groups = [
        PairGroup(
            "What colour is the sky?", ("The grass is green.", "The sky is blue."), (False, True)
        )
    ] * 2
    train(model, embedder.tokenizer, groups, epochs=1, device="cpu")
    assert not before.equal(model.top[0].output.dense.weight.detach())


@pytest.mark.model
def test_span_targets_point_at_the_answer_tokens(embedder: SentenceTransformerEmbedder) -> None:
    from rag.runtime.reranking import PairModel, encode_pairs
    from rag.training.reranker_training import IGNORE, _lower, training_group

    group = training_group(
        "When was the treaty signed?",
        [
            "The treaty talks in Vienna were long.",
            "The Treaty of Vienna was signed on 9 June 1815, after months of talks.",
        ],
        [False, True],
        ("9 june 1815",),
    )  # found whatever the case
    model = PairModel(embedder.model[0].auto_model, trained_layers=1)
    *_, targets = _lower(model, embedder.tokenizer, group, "cpu")
    assert targets[0].tolist() == [IGNORE, IGNORE]  # a wrong sentence has no span
    start, end = targets[1].tolist()
    ids = encode_pairs(embedder.tokenizer, group.question, group.sentences)["input_ids"][1]
    assert embedder.tokenizer.decode(ids[start : end + 1]) == "9 june 1815"


def test_span_evidence_favours_the_sentence_holding_the_answer_tokens() -> None:
    import torch

    from rag.runtime.reranking import NOT_IN_SENTENCE, span_evidence

    logits = torch.full((3, 4, 2), 0.0)
    logits[1, 2] = torch.tensor([6.0, 6.0])  # the middle pair has a sure start and end
    logits[2, :, :] = NOT_IN_SENTENCE  # a pair with no sentence token left
    logits[2, 3] = torch.tensor([0.0, 0.0])
    evidence = span_evidence(logits)
    assert int(evidence.argmax()) == 1
    # a log-probability per side, normalised over the pairs read together
    assert float(evidence.max()) < 0.0 and float(evidence.max()) > -0.2


def test_global_span_loss_is_low_only_when_the_gold_tokens_win_across_candidates() -> None:
    import torch

    from rag.training.reranker_training import IGNORE, _span_loss

    targets = torch.tensor([[IGNORE, IGNORE], [1, 2]])  # the answer spans tokens 1-2 of pair 1
    right = torch.zeros((2, 4, 2))
    right[1, 1, 0] = right[1, 2, 1] = 8.0
    wrong = torch.zeros((2, 4, 2))
    wrong[0, 1, 0] = wrong[0, 2, 1] = 8.0  # same tokens, but in the sentence that is wrong
    assert float(_span_loss(right, targets)) < 0.01
    assert float(_span_loss(wrong, targets)) > 5.0
    # two correct sentences: pointing into either one of them is right
    both = torch.tensor([[0, 0], [1, 2]])
    assert float(_span_loss(right, both)) < 0.01


@pytest.mark.model
def test_span_evidence_changes_the_shipped_score(embedder: SentenceTransformerEmbedder) -> None:
    from rag.runtime.reranking import PairModel, encode_pairs

    model = PairModel(embedder.model[0].auto_model, trained_layers=1).eval()
    enc = encode_pairs(embedder.tokenizer, "When?", ["In 1815.", "Later, in Vienna."])
    hidden = model.lower(enc)
    plain = model.upper(hidden, enc)
    model.span_weight = 1.0
    assert not plain.allclose(model.upper(hidden, enc))


@pytest.mark.model
def test_trained_state_round_trips(embedder: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    import torch

    from rag.runtime.reranking import CrossEncoderReranker, PairModel

    model = PairModel(embedder.model[0].auto_model, trained_layers=1)
    path = tmp_path / "reranker.pt"
    model.span_weight = 0.75
    torch.save(model.trained_state(), path)
    loaded = CrossEncoderReranker(embedder, path)
    assert len(loaded.model.top) == 1 and loaded.model.span_weight == 0.75
    assert loaded.model.span.weight.half().equal(model.span.weight.half())
    older = model.trained_state()  # a file from before the span head is no longer read
    del older["span"], older["span_weight"]
    torch.save(older, path)
    with pytest.raises(ModelFileError):
        CrossEncoderReranker(embedder, path)
    torch.save({**model.trained_state(), "span_weight": float("nan")}, path)  # tampered
    with pytest.raises(ModelFileError):
        CrossEncoderReranker(embedder, path)
    with pytest.raises(ModelFileError, match="cannot read the reranker"):
        CrossEncoderReranker(embedder, tmp_path / "missing.pt")
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelFileError, match="RAG_RERANK=false"):
        CrossEncoderReranker(embedder, damaged)
    torch.save({"trained_layers": 2, "top": {}, "head": {}}, damaged)  # wrong shape of state
    with pytest.raises(ModelFileError):
        CrossEncoderReranker(embedder, damaged)


def test_cascade_asks_the_reranker_only_when_the_top_two_are_close() -> None:
    from rag.answering.scoring import Logistic, RerankBlend

    blend = RerankBlend(8, 1.0, 1.0, Logistic((), 0.0))
    assert blend.wanted(np.array([2.0, 1.5, 0.0]))
    assert not blend.wanted(np.array([3.0, 1.5, 0.0]))
    assert not blend.wanted(np.array([3.0]))


def test_shifted_confidence_puts_the_cut_off_at_one_half() -> None:
    from rag.answering.scoring import Logistic

    model = Logistic((2.0,), -1.0)
    x = np.array([0.3])
    assert abs(model.shifted(model(x))(x) - 0.5) < 1e-9


def test_scorer_file_round_trips() -> None:
    scorer = load_scorer(SCORER_FILE)
    assert scorer.rerank is not None and scorer.rerank.depth > 0
    again = load_scorer.__wrapped__(SCORER_FILE)
    assert again == scorer
    x = np.zeros((3, len(scorer.weights)))
    assert 0.0 <= scorer.confidence(x, scorer.scores(x), np.array([1.0, 0.0, -1.0])) <= 1.0


@pytest.mark.model
def test_answers_with_and_without_the_reranker(
    seed_index: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    on = Engine(Settings(index_dir=seed_index), embedder)
    off = Engine(Settings(index_dir=seed_index, rerank=False), embedder)
    assert on.reranker is not None and off.reranker is None
    for engine in (on, off):
        answer = engine.ask(ALBANESE)
        assert not answer.abstained
        assert "natural candidate" in answer.citations[0].quote


class _PrefersVienna:
    """A stand-in reranker (the seam is one method) that likes sentences naming Vienna."""

    def __init__(self) -> None:
        self.read: list[str] = []

    def rerank(self, question: str, sentences: list[str]) -> tuple[PairReading, ...]:
        self.read.extend(sentences)
        return tuple(
            PairReading(s, 5.0 if "Vienna" in s else -5.0, np.zeros((0, 4))) for s in sentences
        )


def test_reranker_logits_reorder_the_best_candidates(hash_engine: Engine) -> None:
    from dataclasses import replace

    from rag.answering.compose import read
    from rag.answering.features import analyse, sentence_text
    from rag.answering.scoring import (
        CONFIDENCE_FEATURES,
        RERANK_CONFIDENCE_FEATURES,
        Logistic,
        RerankBlend,
    )
    from rag.models import Article
    from rag.retrieval import retrieve

    text = (
        "The treaty was signed after long talks. The treaty talks were held in Vienna. "
        "Many diplomats attended the treaty talks."
    )
    hash_engine.ingest([Article(doc_id="t", title="Treaty", text=text)])
    data = hash_engine.snapshot()
    question = "Where were the treaty talks held?"
    vector = hash_engine.embedder.embed([question])[0]
    pool = retrieve(data, question, vector, 20)
    q = analyse(question, data)
    flat = Logistic((0.0,) * len(RERANK_CONFIDENCE_FEATURES), 0.0)
    scorer = replace(load_scorer(), rerank=RerankBlend(8, 10.0, float("inf"), flat))
    reranker = _PrefersVienna()
    reading = read(q, data, pool, vector, scorer, 5, reranker)
    assert reading.reranked and "Vienna" in sentence_text(data, reading.rows[0])
    # it reads each sentence after its article's title, which says who "he" or "it" is
    assert "Treaty: The treaty talks were held in Vienna." in reranker.read
    plain = read(q, data, pool, vector, replace(scorer, rerank=None), 5, _PrefersVienna())
    assert not plain.reranked  # no blend in the scorer: the reranker is not consulted
    sure = replace(scorer, rerank=RerankBlend(8, 10.0, 0.0, flat))
    assert not read(q, data, pool, vector, sure, 5, _PrefersVienna()).reranked  # never unsure
    assert len(CONFIDENCE_FEATURES) + 2 == len(RERANK_CONFIDENCE_FEATURES)
