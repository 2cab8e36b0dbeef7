"""Startup benchmark: wall time of whole `rag` processes, for each model backend.

`rag ask` (import, model load, one answer, exit), `rag stats` (no model at all) and `rag serve`
until `/ready` answers 200, each run ``--runs`` times on an index of the seed articles, with
``RAG_BACKEND=onnx`` and ``torch`` alternated in one run, and ``python -c "import torch"`` in
the same rounds as the yardstick (the ``× import torch`` column: medians divided, so a busy
machine slows both alike). Exported ONNX files are built before timing (``python -m
rag.runtime.export``): a first use on a fresh machine exports them once.
Run: `python bench/startup_bench.py`.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, add_backends_option, table  # noqa: E402

RAG = str(Path(sys.executable).parent / "rag")
QUESTION = "What did Albanese say about Japan?"
READY_TIMEOUT_S = 120  # a cold torch start on a busy machine


def _env(index: Path, backend: str) -> dict[str, str]:
    return {
        **os.environ,
        "RAG_INDEX_DIR": str(index),
        "RAG_BACKEND": backend,
        "RAG_SEEDS_DIR": str(ROOT / "seeds"),
    }


def _timed(args: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run([RAG, *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_to_ready(env: dict[str, str]) -> float:
    """Seconds from starting `rag serve` to its first 200 from /ready, polled every 5 ms by one
    client made beforehand (a new client per poll costs ~20 ms of the measuring process)."""
    port = _free_port()
    with httpx.Client(timeout=1) as client:
        t = time.perf_counter()
        proc = subprocess.Popen(
            [RAG, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while time.perf_counter() - t < READY_TIMEOUT_S:
                try:
                    if client.get(f"http://127.0.0.1:{port}/ready").status_code == 200:
                        return time.perf_counter() - t
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None:
                    raise RuntimeError(f"rag serve exited with {proc.returncode}")
                time.sleep(0.005)
            raise RuntimeError("rag serve was not ready in time")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def run(runs: int, backends: list[str]) -> str:
    subprocess.run([sys.executable, "-m", "rag.runtime.export"], check=True, capture_output=True)
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        subprocess.run(
            [RAG, "ingest", str(ROOT / "seeds")],
            env=_env(index, backends[0]),
            check=True,
            capture_output=True,
        )
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import torch"], check=True)
            times.setdefault(("import torch", "-"), []).append(time.perf_counter() - t)
            for backend in backends:  # alternated, so a busy moment hits both alike
                env = _env(index, backend)
                measured = {
                    "rag ask": _timed(["ask", QUESTION], env),
                    "rag stats": _timed(["stats"], env),
                    "rag serve to /ready": _serve_to_ready(env),
                }
                for name, seconds in measured.items():
                    times.setdefault((name, backend), []).append(seconds)
    torch_s = statistics.median(times[("import torch", "-")])
    rows: list[list[object]] = [
        [name, backend, len(ts), statistics.median(ts), min(ts), max(ts)]
        + [round(statistics.median(ts) / torch_s, 2)]
        for (name, backend), ts in times.items()
    ]
    rows.sort(key=lambda r: (str(r[0]), str(r[1])))
    headers = ["command", "backend", "runs", "median s", "min s", "max s", "× import torch"]
    return table(headers, rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    add_backends_option(parser)
    args = parser.parse_args()
    print(run(args.runs, args.backends))
