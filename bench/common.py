"""Shared helpers for the benchmarks: data paths, synthetic large indexes, tables."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag.embedding import SentenceTransformerEmbedder
from rag.evaluation.datasets import load_dataset
from rag.evaluation.runner import cached_engine
from rag.ingest import build_bm25
from rag.settings import Settings
from rag.store import IndexData, save_index

ROOT = Path(__file__).resolve().parent.parent
SQUAD = ROOT.parent / "shared" / "data" / "squad-v1.1-dev" / "dev-v1.1.tune.json"
CACHE = ROOT / ".cache"


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def squad_questions(n: int, seed: int = 7) -> list[str]:
    data = json.loads(SQUAD.read_text("utf-8"))["data"]
    questions = [qa["question"] for a in data for p in a["paragraphs"] for qa in p["qas"]]
    return random.Random(seed).sample(questions, n)


def base_index(embedder: SentenceTransformerEmbedder) -> IndexData:
    """The real SQuAD tuning articles, embedded (cached under .cache/eval)."""
    evalset = load_dataset(SQUAD, holdout=0, sample=None)
    return cached_engine(evalset, Settings(), embedder, CACHE / "eval").snapshot()


def replicated_index(base: IndexData, target_chunks: int, root: Path, noise: float = 0.02,
                     seed: int = 0) -> Path:
    """An index of about ``target_chunks`` chunks: copies of the real articles under new ids,
    each copy's chunk and sentence vectors perturbed with Gaussian noise and renormalised.
    Texts repeat, so BM25 sees realistic documents with inflated document frequencies."""
    import faiss

    if (root / "manifest.json").exists():
        return root
    rng = np.random.default_rng(seed)
    copies = max(1, round(target_chunks / base.vectors.ntotal))
    chunk_vecs = base.vectors.reconstruct_n(0, base.vectors.ntotal)
    sent_vecs = np.asarray(base.sentence_vectors, dtype=np.float32)
    articles, vecs, svecs, cols = [], [], [], {k: [] for k in _COLUMNS}
    for c in range(copies):
        articles += [replace(a, doc_id=f"{a.doc_id}~{c}") for a in base.articles]
        vecs.append(_perturb(chunk_vecs, noise if c else 0.0, rng))
        svecs.append(_perturb(sent_vecs, noise if c else 0.0, rng).astype(np.float16))
        for name in _COLUMNS:
            offset = _offset(name, c, base)
            cols[name].append(getattr(base, name) + offset)
    index = faiss.IndexFlatIP(chunk_vecs.shape[1])
    index.add(np.vstack(vecs))
    texts = [articles[d].text[s:e] for d, s, e in zip(
        np.concatenate(cols["chunk_doc"]), np.concatenate(cols["chunk_start"]),
        np.concatenate(cols["chunk_end"]), strict=True)]
    data = IndexData(manifest=dict(base.manifest), articles=tuple(articles),
                     **{k: np.concatenate(v) for k, v in cols.items()},
                     vectors=index, sentence_vectors=np.vstack(svecs), bm25=build_bm25(texts))
    save_index(root, data)
    return root


_COLUMNS = ("chunk_doc", "chunk_no", "chunk_start", "chunk_end", "chunk_sent_lo",
            "chunk_sent_hi", "sent_doc", "sent_start", "sent_end")


def _offset(name: str, copy: int, base: IndexData) -> int:
    if name in ("chunk_doc", "sent_doc"):
        return copy * len(base.articles)
    if name in ("chunk_sent_lo", "chunk_sent_hi"):
        return copy * len(base.sent_doc)
    return 0


def _perturb(matrix: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    if noise == 0:
        return matrix.astype(np.float32)
    out = matrix + rng.normal(0, noise, matrix.shape).astype(np.float32)
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)

