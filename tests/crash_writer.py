"""The writer that tests/test_crash.py kills: a fixed plan of writes, one line per write done.

Run as ``python tests/crash_writer.py OP SEED`` with ``RAG_INDEX_DIR`` or
``RAG_DATABASE_URL`` set. It carries out ``plan(OP, SEED)`` step by step and prints ``ack N``
after step N returned, so the test knows which writes were acknowledged. With
``CRASH_AT=POINT`` it kills itself (SIGKILL) at that point of the store's work instead of
being killed after a random delay (``POINTS``).
"""

from __future__ import annotations

import os
import random
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rag.models import Article

OPS = ("ingest", "merge", "compact", "delete", "rebuild")


@dataclass(frozen=True)
class Step:
    kind: str  # ingest, delete, compact or rebuild
    articles: tuple[Article, ...] = ()
    doc_id: str = ""


def _article(doc_id: str, version: int, sentences: int = 3) -> Article:
    text = " ".join(
        f"Report {doc_id} version {version} sentence {j} mentions topic{doc_id.replace('-', '')}."
        for j in range(sentences)
    )
    return Article(doc_id, f"Title {doc_id}", text)


def plan(op: str, seed: int) -> list[Step]:
    """The writes of one run; the first step is the starting state (acknowledged before any
    kill can land)."""
    rng = random.Random(seed)
    start = Step("ingest", tuple(_article(f"s-{i:03d}", 0) for i in range(12)))
    steps = [start]
    if op == "ingest":  # batches of new articles and of new versions of stored ones
        for n in range(30):
            ids = (
                [f"n-{n:03d}-{i}" for i in range(4)]
                if n % 3
                else rng.sample([f"s-{i:03d}" for i in range(12)], 3)
            )
            steps.append(Step("ingest", tuple(_article(d, n + 1) for d in ids)))
    elif op == "merge":  # one article per write: a merge every few writes
        steps += [Step("ingest", (_article(f"m-{n:03d}", 1),)) for n in range(60)]
    elif op == "compact":
        for n in range(20):
            steps.append(Step("ingest", (_article(f"c-{n:03d}", 1), _article(f"d-{n:03d}", 1))))
            steps.append(Step("delete", doc_id=f"d-{n:03d}"))
            steps.append(Step("compact"))
    elif op == "delete":
        steps = [Step("ingest", tuple(_article(f"s-{i:03d}", 0) for i in range(60)))]
        steps += [Step("delete", doc_id=f"s-{i:03d}") for i in rng.sample(range(60), 60)]
    elif op == "rebuild":  # new versions of some, others dropped, many new
        fresh = [_article(f"s-{i:03d}", 1) for i in range(0, 12, 2)]
        fresh += [_article(f"r-{i:03d}", 1) for i in range(150)]
        steps.append(Step("rebuild", tuple(fresh)))
    return steps


def state_after(steps: list[Step]) -> dict[str, str]:
    """doc_id -> content hash once ``steps`` are done."""
    state: dict[str, str] = {}
    for step in steps:
        if step.kind == "rebuild":
            state = {}
        state.update({a.doc_id: a.content_hash for a in step.articles})
        state.pop(step.doc_id, None)
    return state


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _after(owner: Any, name: str, when: Callable[[], bool] = lambda: True) -> None:
    """Die right after ``owner.name`` returns (when ``when()``)."""
    original = getattr(owner, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if when():
            _die()
        return result

    setattr(owner, name, wrapped)


def _arm(point: str) -> None:
    """Patch the store so that the process dies at ``point`` (see ``POINTS``)."""
    from pathlib import Path

    from rag.stores import catalog, local_swap, pg_rebuild, segment

    if point == "merge-written":  # the merged folder is in place, the catalog not yet told
        _after(segment, "merge")
        return
    if point == "merge-committed":  # the catalog names the merged folder; old ones remain
        merged: list[bool] = []
        _after(segment, "merge", lambda: bool(merged.append(True)))
        original = catalog.Catalog.transaction

        def transaction(self: Any) -> Any:
            from contextlib import contextmanager

            @contextmanager
            def dying() -> Any:
                with original(self) as con:
                    yield con
                if merged:
                    _die()

            return dying()

        catalog.Catalog.transaction = transaction  # type: ignore[method-assign]
        return
    if point == "swap-half-moved":  # a rebuilt segment moved in, nothing committed
        swap_in = local_swap.swap_in

        def moving(*args: Any) -> None:
            rename = Path.rename

            def first_then_die(self: Path, target: Any) -> Any:
                rename(self, target)
                _die()

            Path.rename = first_then_die  # type: ignore[method-assign,assignment]
            swap_in(*args)

        local_swap.swap_in = moving
        return
    if point == "swap-committed":  # the new index is committed; old segments and .rebuild remain
        _after(local_swap, "swap_in")
        return
    if point == "pg-swap-uncommitted":  # inside the swap transaction, before its COMMIT
        _after(pg_rebuild, "_swap_tables")
        return
    if point == "pg-swap-committed":
        _after(pg_rebuild, "swap")
        return
    raise SystemExit(f"unknown crash point {point!r}")


POINTS = (
    "merge-written",
    "merge-committed",
    "swap-half-moved",
    "swap-committed",
    "pg-swap-uncommitted",
    "pg-swap-committed",
)


def main(op: str, seed: int) -> None:
    from rag import engine as engine_module
    from rag.engine import Engine
    from rag.runtime.embedding import HashEmbedder
    from rag.settings import Settings

    engine_module.WRITE_BATCH_CHUNKS = 10  # a rebuild makes many writes and merges
    engine = Engine(Settings(entities=False), HashEmbedder())
    if os.environ.get("CRASH_AT"):
        _arm(os.environ["CRASH_AT"])
    for n, step in enumerate(plan(op, seed), 1):
        if step.kind == "ingest":
            engine.ingest(step.articles)
        elif step.kind == "rebuild":
            engine.ingest(step.articles, rebuild=True)
        elif step.kind == "delete":
            engine.delete(step.doc_id)
        else:
            engine.compact()
        print(f"ack {n}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
