"""Shared helpers for the benchmarks: data paths, synthetic large indexes, tables."""

from __future__ import annotations

import json
import os
import pickle
import random
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.settings import Settings
from rag.stores.base import PreparedArticle, Store, StoreInfo

ROOT = Path(__file__).resolve().parent.parent
# the SQuAD tuning file beside the checkout (BENCH_SQUAD names another copy)
SQUAD = Path(
    os.environ.get(
        "BENCH_SQUAD", ROOT.parent / "shared" / "data" / "squad-v1.1-dev" / "dev-v1.1.tune.json"
    )
)
CACHE = ROOT / ".cache"


def add_backends_option(parser: Any) -> None:
    """``--backends onnx torch``: the RAG_BACKEND values a benchmark measures in turn."""
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=["onnx", "torch"],
        default=["onnx", "torch"],
        help="RAG_BACKEND values, measured in turn",
    )


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


Base = tuple[list[PreparedArticle], StoreInfo]
WRITE_BATCH = 10_000  # chunks per write while building a replicated archive


def base_index(embedder: Any = None) -> Base:
    """The real SQuAD tuning articles, prepared (chunked, embedded) with the real model and
    cached in .cache/bench; ``embedder`` defaults to the configured backend's model."""
    path = CACHE / "bench" / "squad-prepared.pkl"
    if path.exists():
        prepared, info = pickle.loads(path.read_bytes())
        return prepared, _current(info)
    built = sorted((CACHE / "eval").glob("squad-*/catalog.sqlite"))
    if built:  # `rag eval` already embedded the articles: read them back
        base = prepared_from_store(built[-1].parent)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(base))
        return base
    from rag.engine import Engine
    from rag.evaluation.datasets import load_dataset
    from rag.ingest.indexing import prepare

    evalset = load_dataset(SQUAD, holdout=0, sample=None)
    engine = Engine(Settings(index_dir=Path(tempfile.mkdtemp())), embedder)
    prepared = list(prepare(evalset.articles, engine.embedder, engine._chunker()))
    info = engine._store_info()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps((prepared, info)))
    return prepared, info


def copies(
    base: list[PreparedArticle], chunks: int, start: int = 0, noise: float = 0.02
) -> list[PreparedArticle]:
    """About ``chunks`` chunks of copies of ``base`` under new ids (copy numbers from
    ``start``), each copy's vectors perturbed with Gaussian noise and renormalised. Texts
    repeat, so BM25 sees realistic documents with inflated document frequencies."""
    rng = np.random.default_rng(start)
    out: list[PreparedArticle] = []
    total, copy = 0, start
    while total < chunks:
        for p in base:
            if total >= chunks:
                break
            article = replace(p.article, doc_id=f"{p.article.doc_id}~{copy}")
            out.append(
                replace(
                    p,
                    article=article,
                    chunk_vectors=_perturb(p.chunk_vectors, noise, rng),
                    sentence_vectors=_perturb(p.sentence_vectors, noise, rng),
                )
            )
            total += len(p.chunk_start)
        copy += 1
    return out


CORPORA = ("copies", "distinct")  # plain copies, or copies with words changed (bench.distinct)


def fill(store: Store, base: Base, chunks: int, corpus: str = "copies") -> None:
    """Write about ``chunks`` chunks of copies (``corpus``: one of ``CORPORA``) into
    ``store``, in batches."""
    from bench.distinct import distinct_copies

    make = distinct_copies if corpus == "distinct" else copies
    prepared, info = base
    have, batch = 0, 0
    while have < chunks:
        part = make(prepared, min(WRITE_BATCH, chunks - have), start=batch * 10_000)
        store.write(info, part)
        have += sum(len(p.chunk_start) for p in part)
        batch += 1


def replicated_index(base: Base, target_chunks: int, root: Path, corpus: str = "copies") -> Path:
    """A local index at ``root`` of about ``target_chunks`` chunks of ``corpus`` (built once,
    then reused)."""
    from rag.stores.local import LocalStore

    store = LocalStore(root)
    if store.info() is None or store.counts()["chunks"] < 0.95 * target_chunks:
        store.reset()
        fill(store, base, target_chunks, corpus)
    store.close()
    return root


def _perturb(matrix: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    if noise == 0 or len(matrix) == 0:
        return np.asarray(matrix, dtype=np.float32)
    out = matrix + rng.normal(0, noise, matrix.shape).astype(np.float32)
    norms = np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
    return (out / norms).astype(np.float32)


def prepared_from_store(root: Path) -> Base:
    """Every article of a local index, read back as prepared articles (vectors included)."""
    from rag.models import Article
    from rag.stores.base import handle
    from rag.stores.local import LocalStore
    from rag.text import content_terms

    store = LocalStore(root)
    info = store.info()
    assert info is not None
    reader = store.reader()
    out = []
    docs = reader.documents(reader.live_keys())
    for key, d in sorted(docs.items(), key=lambda kv: kv[1].article.doc_id):
        a = d.article
        n, m = len(d.chunk_start), len(d.sent_start)
        chunk_texts = [a.text[s:e] for s, e in zip(d.chunk_start, d.chunk_end, strict=True)]
        out.append(
            PreparedArticle(
                Article(a.doc_id, a.title, a.text, a.url, a.date, a.source),
                d.chunk_start,
                d.chunk_end,
                d.chunk_sent_lo,
                d.chunk_sent_hi,
                d.sent_start,
                d.sent_end,
                reader.chunk_vectors(np.array([handle(key, i) for i in range(n)], dtype=np.int64)),
                reader.sentence_vectors([handle(key, i) for i in range(m)]),
                tuple(tuple(content_terms(t)) for t in chunk_texts),
            )
        )
    store.close()
    return out, info


def _current(info: StoreInfo) -> StoreInfo:
    """``info`` with this code's chunking record, so that engines accept the archive. A cached
    base keeps the sentences it was prepared with: delete .cache/bench after changing the
    sentence or quotable rules."""
    import json

    from rag.ingest.chunking import ChunkingParams

    params = ChunkingParams(
        int(info.chunking["chunk_tokens"]), int(info.chunking["overlap_tokens"])
    )
    return replace(info, chunking=json.loads(json.dumps(params.to_dict())))
