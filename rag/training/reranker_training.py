"""Fine-tuning the cross-encoder reranker's layers on labelled candidate sentences.

Contract: ``train(model, tokenizer, groups)`` fine-tunes ``model``'s copied layers and heads in
place (on a GPU when torch sees one) and leaves everything on the CPU afterwards.

Design. Each training question contributes its best ``TRAIN_DEPTH`` candidates by linear score
(the ones the reranker will see at answer time; a correct sentence ranked lower replaces the
last one). The shared lower layers (in the shipped setting only the token embeddings) run once
per question and are cached; only the copied layers and the heads train, with a listwise loss
(the correct sentences should take the softmax mass), a pointwise one that keeps the logits
usable as a confidence signal, and a span loss: the span head must point at the answer's first
and last token among the tokens of all the question's candidates at once (normalised globally,
as multi-passage readers are), which teaches the layers what the question asks for (a year, a
name, a number), not only which words it shares with the sentence. At answer time that span
evidence joins the head's logit (``SPAN_EVIDENCE_WEIGHT``). The settings' measurements are in
``docs/experiments.md``.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass

import torch
from tqdm import tqdm

from rag.runtime.reranking import PairModel, encode_pairs, sentence_mask

TRAIN_DEPTH = 8  # candidates per question: what the reranker reads when answering
LEARNING_RATE = 6e-5  # the copied layers start trained: small steps (twice this scored lower)
HEAD_LEARNING_RATE = 1e-3  # the new heads start from scratch
WARMUP_STEPS = 200  # at most; a tenth of the steps on small runs
POINTWISE_WEIGHT = 0.5  # keeps logits comparable across questions (the confidence reads them)
SPAN_WEIGHT = 0.5  # the answer-span loss; 0 turns it off (1.0 was not better)
SPAN_EVIDENCE_WEIGHT = 1.0  # of the span evidence in the shipped score (best of 0, 0.5, 1, 2)
IGNORE = -100  # no span target (a wrong sentence, or the answer is not found in it)


@dataclass(frozen=True)
class PairGroup:
    """One question's candidate sentences and which of them answer it."""

    question: str
    sentences: tuple[str, ...]
    labels: tuple[bool, ...]
    answers: tuple[str, ...] = ()  # gold answer texts, for the span loss


def training_group(
    question: str, sentences: list[str], labels: list[bool], answers: tuple[str, ...] = ()
) -> PairGroup:
    """The first ``TRAIN_DEPTH`` candidates (best first), with a correct one swapped in."""
    keep = list(range(min(TRAIN_DEPTH, len(sentences))))
    correct = [i for i, ok in enumerate(labels) if ok]
    if correct and correct[0] >= len(keep) and keep:
        keep[-1] = correct[0]
    return PairGroup(
        question, tuple(sentences[i] for i in keep), tuple(labels[i] for i in keep), answers
    )


def answer_span(sentence: str, answers: tuple[str, ...]) -> tuple[int, int] | None:
    """Character span of the first gold answer found (ignoring case, the last place it
    occurs: the sentence comes after the title) in ``sentence``."""
    low = sentence.lower()
    for answer in answers:
        at = low.rfind(answer.lower().strip()) if answer.strip() else -1
        if at >= 0:
            return at, at + len(answer.strip())
    return None


def train(
    model: PairModel,
    tokenizer: object,
    groups: list[PairGroup],
    *,
    epochs: int = 2,
    seed: int = 0,
    device: str | None = None,
) -> list[float]:
    """Fine-tune ``model``'s top layers and head in place; returns the mean loss per epoch.

    Runs on ``device`` (by default a CUDA GPU when torch sees one, else the CPU) and leaves the
    model, and the shared model under it, on the CPU afterwards."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model.to(device)
    model.bert[0].to(device)
    try:
        return _fit(model, tokenizer, groups, epochs, rng, device)
    finally:
        model.to("cpu")
        model.bert[0].to("cpu")
        model.eval()


def _fit(
    model: PairModel,
    tokenizer: object,
    groups: list[PairGroup],
    epochs: int,
    rng: random.Random,
    device: str,
) -> list[float]:
    cached = [
        _lower(model, tokenizer, g, device)
        for g in tqdm(groups, desc="reranker: encode", file=sys.stderr)
    ]
    optimizer = torch.optim.AdamW(
        [
            {"params": list(model.top.parameters()), "lr": LEARNING_RATE},
            {
                "params": [*model.head.parameters(), *model.span.parameters()],
                "lr": HEAD_LEARNING_RATE,
            },
        ],
        weight_decay=0.01,
    )
    total = max(1, epochs * len(cached))
    warmup = max(1, min(WARMUP_STEPS, total // 10))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1 - s / total)
    )
    model.train()
    losses = []
    for epoch in range(epochs):
        order = list(range(len(cached)))
        rng.shuffle(order)
        running = 0.0
        for i in tqdm(order, desc=f"reranker: epoch {epoch + 1}/{epochs}", file=sys.stderr):
            hidden, mask, sentence, labels, targets = cached[i]
            states = model.states(hidden.float(), mask)
            loss = _loss(model.score(states, mask), labels)
            if SPAN_WEIGHT and bool((targets[:, 0] != IGNORE).any()):
                loss = loss + SPAN_WEIGHT * _span_loss(model.span_logits(states, sentence), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            running += float(loss.item())
        losses.append(running / max(1, len(cached)))
    model.span_weight = SPAN_EVIDENCE_WEIGHT if SPAN_WEIGHT else 0.0
    return losses


def _lower(
    model: PairModel,
    tokenizer: object,
    group: PairGroup,
    device: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The frozen layers' states and the targets of one group, on ``device`` (the span targets
    stay on the CPU: the loss reads them as Python indices)."""
    enc = encode_pairs(tokenizer, group.question, group.sentences, offsets=True)
    labels = torch.tensor([float(x) for x in group.labels], device=device)
    targets = torch.full((len(group.sentences), 2), IGNORE, dtype=torch.long)
    for i, (sentence, ok) in enumerate(zip(group.sentences, group.labels, strict=True)):
        span = answer_span(sentence, group.answers) if ok else None
        if span is not None:
            targets[i] = torch.tensor(_token_span(enc, i, span))
    inputs = {k: enc[k].to(device) for k in ("input_ids", "token_type_ids", "attention_mask")}
    return (
        model.lower(inputs).half(),
        inputs["attention_mask"],
        sentence_mask(inputs),
        labels,
        targets,
    )


def _token_span(enc: object, pair: int, span: tuple[int, int]) -> tuple[int, int]:
    """First and last sentence token inside the character ``span`` (IGNORE when cut off)."""
    offsets = enc["offset_mapping"][pair].tolist()  # type: ignore[index]
    sequence = enc.sequence_ids(pair)  # type: ignore[attr-defined]
    inside = [
        t
        for t, (seq, (a, b)) in enumerate(zip(sequence, offsets, strict=True))
        if seq == 1 and b > a and a < span[1] and b > span[0]
    ]
    return (inside[0], inside[-1]) if inside else (IGNORE, IGNORE)


def _span_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Minus the log-probability of a gold start token, plus of a gold end token, where the
    probabilities run over the sentence tokens of all the candidates together (a question
    with several correct sentences may point into any of them)."""
    loss = logits.new_zeros(())
    width = logits.shape[1]
    for side in (0, 1):
        log_p = torch.log_softmax(logits[..., side].reshape(-1), dim=0)
        gold = [
            pair * width + int(token)
            for pair, token in enumerate(targets[:, side])
            if int(token) != IGNORE
        ]
        loss = loss - torch.logsumexp(log_p[gold], dim=0)
    return loss / 2


def _loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    loss = POINTWISE_WEIGHT * torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
    if labels.sum() > 0:
        mass = torch.softmax(logits, dim=0)[labels > 0].sum()
        loss = loss - torch.log(mass + 1e-9)
    return loss
