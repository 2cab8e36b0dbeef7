"""The drawing of the import graph in docs/how-it-works.md is the current graph, and every
arrow in it points down the layers of the import-linter contract."""

from __future__ import annotations

import importlib.util
import tomllib

from tests.helpers import ROOT


def _drawing_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "docs" / "import_graph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_documented_drawing_is_the_current_import_graph() -> None:
    drawing = _drawing_module()
    doc = (ROOT / "docs" / "how-it-works.md").read_text("utf-8")
    assert drawing.mermaid() in doc, "run `python docs/import_graph.py` and paste it in the doc"


def test_no_arrow_points_up_a_layer() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    level = {name.strip(): i for i, line in enumerate(layers) for name in line.split("|")}
    up = [(a, b) for a, b in _drawing_module().edges() if level[a] >= level[b]]
    assert not up, f"arrows up or sideways: {up}"
