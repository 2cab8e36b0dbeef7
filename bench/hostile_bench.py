"""Wall time and peak memory of loading hostile articles (issue #35): one child process each.

    PYTHONPATH=. .venv/bin/python -m bench.hostile_bench [--timeout 90] [CASE ...]

Each case writes one file and loads it with ``rag.articles.load_file`` in a fresh Python
process (so the peak RSS is that article's alone), and prints the wall time, the child's peak
RSS, and what came of it: the article's size, or the one-line refusal. Peak RSS is
``wait4``'s: the child's own, or a reaped worker's if larger. A child still running after
``--timeout`` seconds is killed and reported as such.
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
    "p-40k": ("upload.html", lambda: _p_elements(40_000)),
    "p-500k": ("upload.html", lambda: _p_elements(500_000)),
    "wide-10k": ("wide.html", lambda: _wide_block(10_000)),
    "wide-40k": ("wide.html", lambda: _wide_block(40_000)),
    "yaml-bomb-8": ("bomb.md", lambda: _alias_bomb(8)),
}

CHILD = """
import sys
from pathlib import Path
from rag.articles import load_file
from rag.errors import RagError
try:
    articles = load_file(Path(sys.argv[1]), [])
    a = articles[0]
    print(f"loaded: {len(a.text):,} chars of text, author {len(a.author or ''):,} chars")
except RagError as exc:
    print(f"refused: {exc.message}")
"""


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
        pid, _, usage = os.wait4(proc.pid, os.WNOHANG)
        while pid == 0 and time.perf_counter() - started < timeout:
            time.sleep(0.05)
            pid, _, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == 0:
            proc.kill()
            _, _, usage = os.wait4(proc.pid, 0)
            outcome = f"still running after {timeout:.0f} s: killed"
        else:
            out = proc.stdout.read().strip() if proc.stdout else ""
            outcome = (out.splitlines() or ["(no output)"])[-1]
        wall = time.perf_counter() - started
    peak_mb = usage.ru_maxrss / 1024  # the child's, and its reaped children's (the workers)
    return f"{name:12} {size / 1e6:6.2f} MB  {wall:7.2f} s  peak RSS {peak_mb:6.0f} MB  {outcome}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=list(CASES))
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args()
    for name in args.cases:
        print(run_case(name, args.timeout), flush=True)


if __name__ == "__main__":
    main()
