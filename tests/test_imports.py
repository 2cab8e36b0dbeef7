"""The import graph of rag/ and api/: no cycles, and serving never imports training tools.

Built with grimp (the graph behind import-linter, whose contracts ``make lint`` also runs);
imports inside functions count too.
"""

from __future__ import annotations

import subprocess
import sys

import grimp
import pytest

from tests.helpers import ROOT

SERVING = ("api", "rag.engine", "rag.answering", "rag.retrieval", "rag.scoring", "rag.features")
TOOLS = ("rag.training", "rag.evaluation")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("rag", "api", cache_dir=None)


def test_no_module_of_rag_or_api_imports_itself_through_others(graph: grimp.ImportGraph) -> None:
    cycles = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain is not None:
                cycles.append(" -> ".join((module, *chain)))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_serving_does_not_import_training_or_evaluation(graph: grimp.ImportGraph) -> None:
    for server in SERVING:
        for tool in TOOLS:
            assert not graph.chain_exists(importer=server, imported=tool, as_packages=True), (
                f"{server} imports {tool}"
            )


def test_the_app_starts_without_the_eval_and_train_extras() -> None:
    code = (
        "import sys, api.app, rag.engine, rag.cli; "
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
