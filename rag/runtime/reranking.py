"""The sentence reranker: a cross-encoder that reads the question and a sentence together.

It is the bundled all-MiniLM-L6-v2 run on ``[CLS] question [SEP] title: sentence [SEP]`` (the
start of the article's title, see ``answering.reranker_text``): the token embeddings and any
layers below the trained ones are the embedder's own (shared, unchanged), the top
``trained_layers`` (all six in the shipped file) are copies fine-tuned on SQuAD tuning
questions ("does this sentence answer the question?") with a one-unit head on top, and a span
head that marks where the answer starts and ends: a pair's score is the head's logit plus the
log-probability that the answer lies in its sentence rather than in the other candidates'.
Only the trained layers and the heads ship, in ``rag/data/reranker.pt`` (float16);
``rag train`` retrains them, and ``rag train --layers N`` makes a smaller cross-encoder that
reads with the first N layers only (the file records its ``depth``). Nothing is downloaded.

This module imports torch: load it lazily (the engine does).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rag.errors import ModelFileError
from rag.runtime.pairs import PairReading, token_rows
from rag.settings import SHIPPED_RERANKER

log = logging.getLogger(__name__)

MAX_PAIR_TOKENS = 128
NOT_IN_SENTENCE = -1e4  # the span logit of a question token, [CLS] or padding


class PairModel(torch.nn.Module):
    """The embeddings and the first ``depth`` layers of a BERT model (all of them by default):
    the lower ones frozen and shared, trainable copies of the top ``trained_layers``, a head.
    A ``depth`` below the model's is a smaller, faster cross-encoder (``rag train --layers``)."""

    def __init__(self, bert: Any, trained_layers: int, depth: int | None = None) -> None:
        super().__init__()
        layers = bert.encoder.layer
        depth = len(layers) if depth is None else depth
        if not 0 < depth <= len(layers):
            raise ValueError(f"depth must be 1..{len(layers)}")
        if not 0 < trained_layers <= depth:
            raise ValueError(f"trained_layers must be 1..{depth}")
        self.bert = [bert]  # a list, so the shared model is not registered as a submodule
        self.split = depth - trained_layers
        self.top = torch.nn.ModuleList(copy.deepcopy(layer) for layer in layers[self.split : depth])
        self.top.requires_grad_(True)  # trainable even when the shared model is frozen
        self.head = torch.nn.Linear(2 * int(bert.config.hidden_size), 1)
        self.span = torch.nn.Linear(int(bert.config.hidden_size), 2)  # answer start / end
        self.span_weight = 0.0  # how much the answer-span evidence adds to the score

    @classmethod
    def from_state(cls, bert: Any, state: dict[str, Any]) -> PairModel:
        """The model a :meth:`trained_state` describes (files without ``depth``, from before
        smaller cross-encoders, use every layer)."""
        depth = state.get("depth")
        model = cls(bert, int(state["trained_layers"]), None if depth is None else int(depth))
        model.load_trained(state)
        return model

    def lower(self, enc: dict[str, torch.Tensor]) -> torch.Tensor:
        """Hidden states after the shared, frozen layers (no gradient)."""
        bert = self.bert[0]
        with torch.no_grad():
            hidden = bert.embeddings(
                input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"]
            )
            mask = additive_mask(enc["attention_mask"])
            for layer in bert.encoder.layer[: self.split]:
                hidden = run_layer(layer, hidden, mask)
        return hidden

    def upper(self, hidden: torch.Tensor, enc: dict[str, torch.Tensor]) -> torch.Tensor:
        """One logit per pair: the trained layers, then the head on [CLS] and the mean, plus
        (when the file has it) the evidence that the answer's words are in the sentence."""
        return self.outputs(hidden, enc)[0]

    def outputs(
        self, hidden: torch.Tensor, enc: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The pair logits of :meth:`upper` and the span head's per-token start and end logits
        (``(pairs, tokens, 2)``, see :meth:`span_logits`) from the same pass."""
        states = self.states(hidden, enc["attention_mask"])
        logits = self.score(states, enc["attention_mask"])
        span = self.span_logits(states, sentence_mask(enc))
        if self.span_weight:
            logits = logits + self.span_weight * span_evidence(span)
        return logits, span

    def states(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token states after the trained layers."""
        mask = additive_mask(attention_mask)
        for layer in self.top:
            hidden = run_layer(layer, hidden, mask)
        return hidden

    def score(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The head on [CLS] and the mean of the token states."""
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return self.head(torch.cat([hidden[:, 0], mean], dim=-1)).squeeze(-1)

    def span_logits(self, hidden: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        """Start and end logits of every token, ``(pairs, tokens, 2)``; only the sentence's
        own tokens (``sentence`` is 1 there) can hold the answer."""
        logits = self.span(hidden)
        return logits.masked_fill(~sentence.bool().unsqueeze(-1), NOT_IN_SENTENCE)

    def trained_state(self) -> dict[str, Any]:
        return {
            "trained_layers": len(self.top),
            "depth": self.split + len(self.top),
            "span_weight": float(self.span_weight),
            **{
                name: {k: v.half() for k, v in getattr(self, name).state_dict().items()}
                for name in ("top", "head", "span")
            },
        }

    def load_trained(self, state: dict[str, Any]) -> None:
        self.top.load_state_dict({k: v.float() for k, v in state["top"].items()})
        self.head.load_state_dict({k: v.float() for k, v in state["head"].items()})
        self.span.load_state_dict({k: v.float() for k, v in state["span"].items()})
        self.span_weight = float(state["span_weight"])
        if not math.isfinite(self.span_weight):
            raise ValueError("span_weight is not a finite number")


def sentence_mask(enc: dict[str, torch.Tensor]) -> torch.Tensor:
    """1 on the tokens of each pair's second part (the sentence, and its closing [SEP])."""
    return enc["attention_mask"] * enc["token_type_ids"]


def span_evidence(span_logits: torch.Tensor) -> torch.Tensor:
    """Per pair, the log-probability that the answer starts in its sentence plus that it ends
    there, normalised over all the pairs read together (the question's candidates)."""
    per_pair = torch.logsumexp(span_logits, dim=1)  # (pairs, 2)
    return (per_pair - torch.logsumexp(per_pair, dim=0)).sum(-1)


def run_layer(layer: Any, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """One BERT layer; older transformers releases return a tuple, newer ones the states."""
    out = layer(hidden, attention_mask=mask)
    return out[0] if isinstance(out, tuple) else out


def additive_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    return (1.0 - attention_mask[:, None, None, :].float()) * -1e9


def encode_pairs(
    tokenizer: Any, question: str, sentences: Sequence[str], offsets: bool = False
) -> Any:
    """Tokenized ``[CLS] question [SEP] sentence [SEP]`` pairs (with character offsets into
    the sentences when ``offsets``)."""
    # longest_first: a long sentence loses its end, as usual; a question longer than the
    # window (the API allows 1000 characters) is cut too, instead of failing the request
    return tokenizer(
        [question] * len(sentences),
        list(sentences),
        return_tensors="pt",
        padding=True,
        truncation="longest_first",
        max_length=MAX_PAIR_TOKENS,
        return_offsets_mapping=offsets,
    )


class CrossEncoderReranker:
    """Scores (question, sentence) pairs: a logit, higher means "answers the question"."""

    def __init__(self, embedder: Any, path: Path = SHIPPED_RERANKER) -> None:
        try:  # any failure to read or fit the file means the same thing: it is not usable
            state = torch.load(path, map_location="cpu", weights_only=True)
            self.model = PairModel.from_state(embedder.model[0].auto_model, state)
        except Exception as exc:
            raise ModelFileError(
                f"cannot read the reranker weights {path} ({type(exc).__name__}); reinstall the "
                "package, retrain with `rag train DATASET --out DIR` and set "
                "RAG_RERANKER_PATH, or set RAG_RERANK=false"
            ) from None
        self.tokenizer = embedder.tokenizer
        self.model.eval()
        self._run = embedder.run

    def rerank(self, question: str, sentences: Sequence[str]) -> tuple[PairReading, ...]:
        """Per sentence, its score and the span head's token rows, from one forward pass."""
        if not sentences:
            return ()
        logits, rows = self._run(self._forward, question, list(sentences))
        scores = np.asarray(logits, dtype=np.float64)
        return tuple(
            PairReading(text, float(score), tokens)
            for text, score, tokens in zip(sentences, scores, rows, strict=True)
        )

    def _forward(self, question: str, sentences: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        enc = encode_pairs(self.tokenizer, question, sentences, offsets=True)
        with torch.inference_mode():
            logits, span = self.model.outputs(self.model.lower(enc), enc)
        offsets, span_np = enc["offset_mapping"].numpy(), span.float().numpy()
        rows = [
            token_rows(offsets[i], enc.sequence_ids(i), span_np[i]) for i in range(len(sentences))
        ]
        return logits.float().numpy(), rows
