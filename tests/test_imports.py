"""What the import contracts cannot see: what a started app actually loads, and the
benchmarks' independence from the tests.

The graph itself (layers, no cycles, serving without training or torch) is import-linter's
contracts in pyproject.toml, run by ``make lint``.
"""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT


def test_the_app_starts_without_the_eval_and_train_extras() -> None:
    code = (
        "import sys, api.app, rag.engine, rag.cli.commands; "
        "print(sorted(m for m in ('sklearn', 'matplotlib', 'rag.training') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert out.strip() == "[]"


def test_the_benchmarks_never_import_the_tests() -> None:
    import ast
    from pathlib import Path

    bench = Path(__file__).resolve().parent.parent / "bench"
    for path in bench.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            assert not any(n == "tests" or n.startswith("tests.") for n in names), path.name
