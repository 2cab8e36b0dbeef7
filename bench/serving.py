"""A real `rag serve` on a loopback port, for the benchmarks and the server tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
ALBANESE = "What did Albanese say about Japan?"  # the seed article answers it in one sentence
SERVER_START_S = 180  # a cold `rag serve` loads the model and may build the seed index first


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    index_dir: Path, port: int, extra_env: dict[str, str] | None = None, workers: int = 1
) -> subprocess.Popen[bytes]:
    """`rag serve` as a real subprocess on a loopback port; returns the process when ready."""
    exe = Path(sys.executable).parent / "rag"
    env = {
        **os.environ,
        "RAG_INDEX_DIR": str(index_dir),
        "RAG_SEEDS_DIR": str(SEEDS),
        **(extra_env or {}),
    }
    # the server's log goes to a file: an unread pipe fills up and blocks the server
    log_path = index_dir.parent / f"serve-{port}.log"
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(exe), "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = log_path.read_text("utf-8", errors="replace")
            raise RuntimeError(f"rag serve exited with {proc.returncode}: {out[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("rag serve did not become ready in time")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server from ``start_server`` (killed if it does not stop in 20 s)."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
