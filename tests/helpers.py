"""Helpers shared by the tests: paths, a question, a real server process.

Fixtures stay in ``conftest.py``; import these from here (``from tests.helpers import ...``).
The server helpers live in ``bench/serving.py`` (the benchmarks use them too, and the
benchmarks never import the tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.serving import (  # noqa: F401  (re-exported for the tests)
    ALBANESE,
    ROOT,
    SEEDS,
    SERVER_START_S,
    free_port,
    start_server,
    stop_server,
)
from rag.models import Span

SHARED_DATA = ROOT.parent / "shared" / "data"
SQUAD_MINI = Path(__file__).parent / "data" / "squad-mini.json"

# seeds/: the AUKUS article and the five articles of the fictional Lowmere bridge story
SEED_ARTICLES = 6


def assert_sentences_cover(text: str, spans: Sequence[Span]) -> None:
    """Sentence spans are verbatim, trimmed, in order, and leave out nothing but whitespace."""
    previous_end = 0
    for span in spans:
        piece = text[span.start : span.end]
        assert piece and piece == piece.strip()
        assert span.start >= previous_end
        previous_end = span.end
    covered = "".join(text[s.start : s.end] for s in spans)
    assert "".join(covered.split()) == "".join(text.split())
