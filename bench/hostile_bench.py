"""Wall time and peak memory of loading hostile articles (issue #35): one child process each.

    PYTHONPATH=. .venv/bin/python -m bench.hostile_bench [--timeout 90] [CASE ...]

Each case writes one file and loads it with ``rag.articles.loading.load_file`` in a fresh Python
process (so the peak RSS is that article's alone), and prints the wall time, the child's peak
RSS (``VmHWM``: its own, or its parser worker's when larger), and what came of it: the
article's size, or the one-line refusal. A child still running after ``--timeout`` seconds is
killed and reported as such (with its peak RSS until then).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _p_elements(n: int) -> str:
    paragraphs = "".join(f"<p>Paragraph {i} of the upload says little.</p>" for i in range(n))
    return f"<html><body><article>{paragraphs}</article></body></html>"


def _wide_block(n: int) -> str:
    inline = "<b>word</b> another thing. " * n
    return f"<html><body><article><p>{inline}</p></article></body></html>"


def _alias_bomb(levels: int) -> str:
    lines = ["---", "a0: &a0 [" + ",".join(['"lol"'] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    lines += [f"author: *a{levels - 1}", "---", "Wombat census", "", "Wombats were counted."]
    return "\n".join(lines) + "\n"


CASES: dict[str, tuple[str, Callable[[], str]]] = {
    "p-29k": ("upload.html", lambda: _p_elements(29_000)),  # just under RAG_MAX_HTML_ELEMENTS
    "p-40k": ("upload.html", lambda: _p_elements(40_000)),
    "p-500k": ("upload.html", lambda: _p_elements(500_000)),
    "wide-1.8k": ("wide.html", lambda: _wide_block(1_800)),  # just under RAG_MAX_BLOCK_CHARS
    "wide-10k": ("wide.html", lambda: _wide_block(10_000)),
    "wide-40k": ("wide.html", lambda: _wide_block(40_000)),
    "yaml-bomb-8": ("bomb.md", lambda: _alias_bomb(8)),
}

CHILD = """
import sys
from pathlib import Path
from rag.articles.loading import load_file
from rag.errors import RagError

def peak_mb(pid="self"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0

try:
    articles = load_file(Path(sys.argv[1]), [])
    a = articles[0]
    outcome = f"loaded: {len(a.text):,} chars of text, author {len(a.author or ''):,} chars"
except RagError as exc:
    outcome = f"refused: {exc.message}"
sandbox = sys.modules.get("rag.articles.sandbox")
workers = [w.proc.pid for w in sandbox._pool.idle] if sandbox else []
print(f"{max([peak_mb()] + [peak_mb(pid) for pid in workers]):.0f}")
print(outcome)
"""


def _peak_mb(pid: int) -> str | None:
    """A running process's peak RSS so far, in MB (None once it has exited)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return f"{int(line.split()[1]) / 1024:.0f}"
    except OSError:
        pass
    return None


def run_case(name: str, timeout: float) -> str:
    file_name, make = CASES[name]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / file_name
        path.write_text(make(), encoding="utf-8")
        size = path.stat().st_size
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        pid, peak = 0, "?"
        while pid == 0 and time.perf_counter() - started < timeout:
            time.sleep(0.05)
            peak = _peak_mb(proc.pid) or peak
            pid, _ = os.waitpid(proc.pid, os.WNOHANG)
        if pid == 0:
            proc.kill()
            proc.wait()
            outcome = f"still running after {timeout:.0f} s: killed"
        else:
            lines = (proc.stdout.read().strip() if proc.stdout else "").splitlines()
            peak, outcome = (lines[-2], lines[-1]) if len(lines) >= 2 else ("?", str(lines))
        wall = time.perf_counter() - started
    return f"{name:12} {size / 1e6:6.2f} MB  {wall:7.2f} s  peak RSS {peak:>6} MB  {outcome}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=list(CASES))
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args()
    for name in args.cases:
        print(run_case(name, args.timeout), flush=True)


if __name__ == "__main__":
    main()
