"""Ingest benchmark: chunks/s of a full `Engine.ingest` against the embedder's raw encoding speed
on the same chunk texts, in the same run (best of two rounds each, alternated), for each model
backend (``RAG_BACKEND``).

Articles are SQuAD v1.1 tuning paragraphs, one article each. Run: `python bench/ingest_bench.py`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SQUAD, add_backends_option, table  # noqa: E402
from rag.engine import Engine  # noqa: E402
from rag.models import Article  # noqa: E402
from rag.runtime import load_embedder  # noqa: E402
from rag.settings import Settings  # noqa: E402


def articles(n: int) -> list[Article]:
    data = json.loads(SQUAD.read_text("utf-8"))["data"]
    paragraphs = [
        (a["title"], i, p["context"]) for a in data for i, p in enumerate(a["paragraphs"])
    ]
    return [Article(doc_id=f"{t}-{i}", title=t, text=c) for t, i, c in paragraphs[:n]]


def run(n: int, backends: list[str], rounds: int = 2) -> str:
    docs = articles(n)
    rows = []
    for backend in backends:
        embedder = load_embedder(Settings(backend=backend))  # type: ignore[arg-type]
        with tempfile.TemporaryDirectory() as tmp:
            probe = Engine(Settings(index_dir=Path(tmp) / "probe"), embedder)
            chunker = probe._chunker()
            texts = [c.text for a in docs for c in chunker.split(a)]
            embedder.embed(texts[:64])  # warm-up
            raw, full = [], []
            for r in range(rounds):
                t = time.perf_counter()
                embedder.embed(texts)
                raw.append(time.perf_counter() - t)
                engine = Engine(Settings(index_dir=Path(tmp) / f"index-{r}"), embedder)
                t = time.perf_counter()
                report = engine.ingest(docs)
                full.append(time.perf_counter() - t)
                assert report.chunks == len(texts)
        raw_rate, ingest_rate = len(texts) / min(raw), len(texts) / min(full)
        rows.append(
            [
                backend,
                len(docs),
                len(texts),
                raw_rate,
                ingest_rate,
                round(ingest_rate / raw_rate, 3),
            ]
        )
    return table(
        ["backend", "articles", "chunks", "raw encode chunks/s", "ingest chunks/s", "ratio"], rows
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=300)
    add_backends_option(parser)
    args = parser.parse_args()
    print(run(args.articles, args.backends))
