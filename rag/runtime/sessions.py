"""Opening an exported ONNX file: export it when missing, rebuild it once when damaged.

Only this module and the exporter know that the files may be missing; the encoder and the
cross-encoder get a ready ``onnxruntime.InferenceSession``. A file that is missing is exported
(this imports torch, once); a file onnxruntime cannot load, or whose graph is not the one
expected, is deleted and exported again; if that fails too the caller gets a one-line
``ModelFileError``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.errors import ModelFileError

log = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def open_session(path: Path, export: Callable[[], Path], outputs: tuple[str, ...]) -> Any:
    """An onnxruntime session over ``path``; ``export()`` (re)builds the file."""
    for attempt in (1, 2):
        if not path.exists():
            _export(export, path)
        try:
            session = _load(path, outputs)
        except Exception as exc:  # a truncated or foreign file: onnxruntime's own error types
            if attempt == 2:
                raise ModelFileError(
                    f"cannot load the exported model {path} ({type(exc).__name__}); delete it "
                    "and run `python -m rag.runtime.export`, or set RAG_BACKEND=torch"
                ) from None
            log.warning(
                "the exported model %s is damaged (%s): exporting it again",
                path,
                type(exc).__name__,
            )
            path.unlink(missing_ok=True)
            continue
        return session
    raise AssertionError("unreachable")


def _load(path: Path, outputs: tuple[str, ...]) -> Any:
    import onnxruntime as ort  # type: ignore[import-untyped]

    options = ort.SessionOptions()
    options.inter_op_num_threads = 1  # the graphs are one chain: parallelism is inside ops
    options.log_severity_level = 3  # errors only
    # idle pool threads sleep instead of spinning: spinning ones starved the retrieval and
    # scoring that follow each model call (docs/experiments.md, "Model backend")
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = tuple(i.name for i in session.get_inputs())
    produced = tuple(o.name for o in session.get_outputs())
    if names != INPUTS or produced != outputs:
        raise ValueError(f"unexpected graph: inputs {names}, outputs {produced}")
    return session


def _export(export: Callable[[], Path], path: Path) -> None:
    try:
        import torch  # noqa: F401  (only to give a clear message when it is missing)
    except ImportError:
        raise ModelFileError(
            f"the exported model {path} is missing and torch is not installed to export it: "
            "run `make install` (or `python -m rag.runtime.export` where torch is)"
        ) from None
    written = export()
    if written != path:
        raise ModelFileError(f"the export wrote {written}, not {path}")
