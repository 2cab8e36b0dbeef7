"""Soak test: mixed traffic for a fixed time at a fixed concurrency, then a table.

Each client loops over a weighted mix: ``POST /ask``, ``POST /ask/stream`` read to the end,
``/ask/stream`` cut after its first event (the connection is dropped mid-stream), ``GET
/search``, and writes (``POST /documents`` replacing one of the client's two articles, and
now and then ``DELETE`` of one, so the index keeps its size). It prints the success rate,
p50/p95 per endpoint, and the server's RSS at the start, after the warm-up and at the end.

By default it starts its own ``rag serve`` on a free loopback port over a fresh index built
from ``seeds/`` (rate limit off: every client is the same loopback address). ``--url`` points
it at a running server instead (``--pid`` to read that server's RSS).

    python bench/soak.py --duration 600 --concurrency 8
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import table  # noqa: E402
from bench.serving import ALBANESE, free_port, start_server, stop_server  # noqa: E402

QUESTIONS = [
    ALBANESE,
    "What did Kihara say?",
    "When was the partnership formed?",
    "What is the second pillar focused on?",
    "How many wombats were counted?",
    "Who is the ranger in Tasmania?",
    "What did the minister say about penguins?",
]
MIX = [
    ("ask", 40),
    ("stream", 15),
    ("stream_cut", 10),
    ("search", 25),
    ("write", 8),
    ("delete", 2),
]  # weights, in percent of requests
RSS_EVERY_S = 5.0  # how often the server's memory is sampled


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and its children (uvicorn workers), in KiB; 0 if gone."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    kids = [int(c) for c in text.split()]
    return kids + [g for k in kids for g in _children(k)]


class Tally:
    """Latencies and failures per endpoint, shared by the client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.failures: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, kind: str, seconds: float, failure: str | None) -> None:
        with self.lock:
            self.latency[kind].append(seconds * 1000)
            if failure:
                self.failures[kind][failure] += 1


def one_request(
    http: httpx.Client, kind: str, rng: random.Random, mine: set[str], client: int
) -> str | None:
    """Run one request of ``kind``; the failure (a short reason) or None."""
    question = rng.choice(QUESTIONS)
    if kind == "ask":
        r = http.post("/ask", json={"question": question})
        return None if r.status_code == 200 and "answer" in r.json() else f"HTTP {r.status_code}"
    if kind in ("stream", "stream_cut"):
        with http.stream("POST", "/ask/stream", json={"question": question}) as r:
            if r.status_code != 200:
                return f"HTTP {r.status_code}"
            text = ""
            for chunk in r.iter_text():
                text += chunk
                if kind == "stream_cut" and "\n\n" in text:
                    break  # leaving the block drops the connection mid-stream
        if kind == "stream_cut":
            return None if text.startswith("event: retrieval") else "no first event"
        return None if "event: done" in text else "stream did not finish"
    if kind == "search":
        r = http.get("/search", params={"q": question, "top_k": 3})
        return None if r.status_code == 200 else f"HTTP {r.status_code}"
    if kind == "write" or not mine:
        doc_id = f"soak-{client}-{rng.randrange(2)}"
        text = (
            f"Rangers counted {rng.randrange(10_000)} wombats near station {client} on "
            f"day {rng.randrange(365)}, the park ranger Jane Doyle said."
        )
        r = http.post("/documents", json=[{"id": doc_id, "title": "Wombat count", "text": text}])
        mine.add(doc_id)
        return None if r.status_code == 200 else f"HTTP {r.status_code}"
    doc_id = mine.pop()
    r = http.delete(f"/documents/{doc_id}")
    return None if r.status_code == 200 else f"HTTP {r.status_code}"


def client_loop(url: str, client: int, deadline: float, tally: Tally) -> None:
    rng = random.Random(client)
    kinds, weights = zip(*MIX, strict=True)
    mine: set[str] = set()
    with httpx.Client(base_url=url, timeout=60) as http:
        while time.monotonic() < deadline:
            kind = rng.choices(kinds, weights)[0]
            started = time.perf_counter()
            try:
                failure = one_request(http, kind, rng, mine, client)
            except httpx.HTTPError as exc:
                failure = type(exc).__name__
            tally.add(kind, time.perf_counter() - started, failure)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def soak(url: str, pid: int | None, duration: float, concurrency: int, warmup: float) -> str:
    tally = Tally()
    samples: list[tuple[float, int]] = []
    start = time.monotonic()
    deadline = start + duration
    threads = [
        threading.Thread(target=client_loop, args=(url, i, deadline, tally))
        for i in range(concurrency)
    ]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        if pid:
            samples.append((time.monotonic() - start, rss_kib(pid)))
        time.sleep(RSS_EVERY_S)
    if pid:
        samples.append((time.monotonic() - start, rss_kib(pid)))
    return report(tally, samples, duration, concurrency, warmup)


def report(
    tally: Tally, samples: list[tuple[float, int]], duration: float, concurrency: int, warmup: float
) -> str:
    rows: list[list[object]] = []
    total = failed = 0
    for kind, _ in MIX:
        lat = tally.latency.get(kind, [])
        bad = sum(tally.failures[kind].values())
        total, failed = total + len(lat), failed + bad
        reasons = ", ".join(f"{k} x{v}" for k, v in tally.failures[kind].items()) or "-"
        rows.append(
            [
                kind,
                len(lat),
                f"{100 * (len(lat) - bad) / max(1, len(lat)):.2f}%",
                percentile(lat, 50) if lat else "-",
                percentile(lat, 95) if lat else "-",
                reasons,
            ]
        )
    lines = [
        f"soak: {duration:.0f} s, {concurrency} clients, {total} requests, "
        f"success {100 * (total - failed) / max(1, total):.2f}%",
        "",
        table(["endpoint", "requests", "success", "p50 ms", "p95 ms", "failures"], rows),
    ]
    if samples:
        first = samples[0][1]
        warm = next((kib for t, kib in samples if t >= warmup), samples[-1][1])
        last, peak = samples[-1][1], max(kib for _, kib in samples)
        lines += [
            "",
            f"server RSS: start {first / 1024:.0f} MiB, after {warmup:.0f} s warm-up "
            f"{warm / 1024:.0f} MiB, end {last / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB; "
            f"growth after warm-up {100 * (last - warm) / max(1, warm):+.1f}%",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server (default: start rag serve)")
    parser.add_argument("--pid", type=int, help="the running server's pid, for its RSS")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of traffic")
    parser.add_argument("--concurrency", type=int, default=8, help="clients at once")
    parser.add_argument(
        "--warmup",
        type=float,
        default=60.0,
        help="seconds before the RSS baseline for growth is taken",
    )
    args = parser.parse_args()
    if args.url:
        print(soak(args.url, args.pid, args.duration, args.concurrency, args.warmup))
        return
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = start_server(Path(tmp) / "index", port, {"RAG_RATE_LIMIT_PER_MINUTE": "0"})
        try:
            print(
                soak(
                    f"http://127.0.0.1:{port}",
                    proc.pid,
                    args.duration,
                    args.concurrency,
                    args.warmup,
                )
            )
        finally:
            stop_server(proc)
            print(server_errors(Path(tmp) / f"serve-{port}.log"))


def server_errors(log: Path) -> str:
    """The server log's error lines and tracebacks (the log goes with the temporary folder)."""
    lines = log.read_text("utf-8", "replace").splitlines() if log.exists() else []
    keep = [
        line
        for line in lines
        if line.startswith(("ERROR", "Traceback", "  ", "WARNING"))
        or "Error" in line
        or "error" in line
    ]
    return "server log, errors: " + ("\n" + "\n".join(keep[-200:]) if keep else "none")


if __name__ == "__main__":
    main()
