"""HTTP load benchmark: requests/s and p50/p95/p99 of POST /ask with 1, 8 and 32 concurrent
clients, each a bounded loop of fixed duration against `rag serve` on loopback, on the seed
index and on a ~10k-chunk index of distinct text (bench/distinct.py).
Run: `python bench/http_bench.py [--seconds 15] [--workers 1 2]` (one server per worker count;
#32's target: with 2 workers, 8 clients get at least 1.5× one client's req/s on an idle machine).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    CACHE,
    add_backends_option,
    base_index,
    replicated_index,
    squad_questions,
    table,
)
from bench.serving import ALBANESE, free_port, start_server, stop_server  # noqa: E402
from rag.evaluation.metrics import percentile  # noqa: E402

SEED_QUESTIONS = [
    ALBANESE,
    "What did Kihara say?",
    "When was the partnership formed?",
    "What is the second pillar focused on?",
]


async def load(url: str, questions: list[str], clients: int, seconds: float) -> list[object]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def client(i: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            n = i
            while time.monotonic() < deadline:
                t = time.perf_counter()
                try:
                    r = await http.post("/ask", json={"question": questions[n % len(questions)]})
                    errors += r.status_code != 200
                except httpx.HTTPError:
                    errors += 1
                latencies.append((time.perf_counter() - t) * 1000)
                n += clients

    started = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.monotonic() - started
    return [
        clients,
        len(latencies),
        errors,
        len(latencies) / elapsed,
        percentile(latencies, 50),
        percentile(latencies, 95),
        percentile(latencies, 99),
    ]


def run(
    seconds: float,
    concurrency: list[int],
    backends: list[str],
    sizes: list[str],
    env: dict[str, str],
    workers: list[int] = [1],  # noqa: B006 - read only
) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        seed_index = Path(tmp) / "seed-index"
        big = replicated_index(
            base_index(), 10_000, CACHE / "bench-index-distinct-10000", "distinct"
        )
        indexes = {"seed": (seed_index, SEED_QUESTIONS), "10k chunks": (big, squad_questions(200))}
        rows = []
        for name, backend, w in ((n, b, w) for n in sizes for b in backends for w in workers):
            index, questions = indexes[name]
            port = free_port()
            settings = {"RAG_RATE_LIMIT_PER_MINUTE": "0", "RAG_BACKEND": backend, **env}
            proc = start_server(index, port, settings, workers=w)
            try:
                url = f"http://127.0.0.1:{port}"
                for clients in concurrency:
                    rows.append(
                        [name, backend, w, *asyncio.run(load(url, questions, clients, seconds))]
                    )
            finally:
                stop_server(proc)
        shutil.rmtree(seed_index, ignore_errors=True)
    return table(
        [
            "index",
            "backend",
            "workers",
            "clients",
            "requests",
            "errors",
            "req/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
        ],
        rows,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    add_backends_option(parser)
    parser.add_argument(
        "--indexes", nargs="+", choices=["seed", "10k chunks"], default=["seed", "10k chunks"]
    )
    parser.add_argument(
        "--env",
        nargs="*",
        default=[],
        metavar="RAG_X=VALUE",
        help="extra server settings, e.g. RAG_MAX_CONCURRENT_ASKS=8",
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="server processes")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    print(run(args.seconds, args.clients, args.backends, args.indexes, extra, args.workers))
