"""Print the drawing of the import graph in docs/how-it-works.md (Mermaid, top to bottom).

Nodes are the layers of the import-linter contract in pyproject.toml; an arrow A --> B says
some module of A imports one of B (imports inside functions count). Arrows implied by two
others are left out (a transitive reduction), so the drawing stays readable; every arrow
points down. ``python docs/import_graph.py`` prints it; tests/test_import_graph.py checks the
document's copy is the current graph.
"""

from __future__ import annotations

import itertools

import grimp

NODES = (
    "rag.cli", "api", "rag.training", "rag.evaluation", "rag.engine", "rag.answering",
    "rag.ingest", "rag.articles", "rag.retrieval", "rag.stores", "rag.runtime", "rag.feedback",
    "rag.settings", "rag.time", "rag.text", "rag.newsparts", "rag.jsonio", "rag.models",
    "rag.errors",
)  # fmt: skip


def edges() -> set[tuple[str, str]]:
    """Direct package-level imports between ``NODES``, transitively reduced."""
    graph = grimp.build_graph("rag", "api", cache_dir=None)
    found = {
        (a, b)
        for a, b in itertools.permutations(NODES, 2)
        if graph.direct_import_exists(importer=a, imported=b, as_packages=True)
    }
    reach = {n: _reachable(n, found) for n in NODES}
    implied = {(a, b) for a, b in found for x, c in found if x == a and c != b and b in reach[c]}
    return found - implied


def _reachable(start: str, found: set[tuple[str, str]]) -> set[str]:
    seen: set[str] = set()
    todo = [b for a, b in found if a == start]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(b for a, b in found if a == n)
    return seen


def mermaid() -> str:
    lines = ["```mermaid", "flowchart TD"]
    node = {n: f"{n.replace('.', '_')}[{n}]" for n in NODES}
    lines += [f"    {node[a]} --> {node[b]}" for a, b in sorted(edges())]
    return "\n".join([*lines, "```"])


if __name__ == "__main__":
    print(mermaid())
