"""Model runtimes: which embedder and cross-encoder the engine gets (``RAG_BACKEND``).

``onnx`` (default): all-MiniLM-L6-v2 and the fine-tuned cross-encoder on onnxruntime, from
files exported once from the torch weights (``rag.runtime.export``; cached by the weights'
hash, see ``rag.runtime.files``), int8 where quality held; answering never imports torch or
sentence-transformers. ``torch``: sentence-transformers and ``rag.runtime.reranking`` (training uses
these). Importing this package is cheap: the runtimes load on first use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.runtime.embedding import Embedder
    from rag.runtime.pairs import Reranker
    from rag.settings import ModelSettings, Settings

    Models = tuple[Embedder, Reranker | None]

log = logging.getLogger(__name__)

LOCK = threading.RLock()  # model construction: one thread builds, the others wait for it
SWITCH_INTERVAL_S = 0.0005  # a tenth of Python's default (see configure_process)


def configure_process() -> None:
    """Process-wide settings for answering, applied once at start-up (CLI, app, benches).

    One BLAS thread: OpenBLAS workers spin after each dense search and starve the model's
    own threads. A short interpreter switch interval: a question answered while a write chunks
    a long article would otherwise wait a full default interval for the interpreter after each
    short C call (measurements in docs/experiments.md).
    """
    import sys

    import numpy  # noqa: F401  (threadpoolctl limits only the BLAS libraries already loaded)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
    sys.setswitchinterval(SWITCH_INTERVAL_S)


# models being built ahead of their first use (``preload``), by the model settings they follow
_preloads: dict[ModelSettings, Future[Models]] = {}


def preload(settings: Settings) -> None:
    """Start building the embedder and reranker of ``settings.models`` in a daemon thread;
    ``load_embedder`` and ``load_reranker`` with the same model settings then take them,
    waiting while they build. ``rag serve`` calls it first thing, so the model files are read
    and optimised (by onnxruntime, outside Python's lock) while the web stack imports. A
    failure is left to the loaders, which build again and raise their own error."""
    future: Future[Models] = Future()
    _preloads[settings.models] = future

    def build() -> None:
        try:
            embedder = _build_embedder(settings)
            future.set_result((embedder, _build_reranker(settings, embedder)))
        except Exception as exc:  # noqa: BLE001 - handed to the loader that waits for it
            future.set_exception(exc)

    threading.Thread(target=build, name="preload-models", daemon=True).start()


def _preloaded(settings: Settings) -> Models | None:
    """The models ``preload`` built for these model settings (waiting for them), or None."""
    future = _preloads.get(settings.models)
    if future is None:
        return None
    try:
        return future.result()
    except Exception:  # noqa: BLE001 - the caller builds again and reports its own error
        log.debug("preloading the models failed", exc_info=True)
        _preloads.pop(settings.models, None)
        return None


def load_embedder(settings: Settings) -> Embedder:
    """The embedder ``settings.models.backend`` asks for (the preloaded one, if any)."""
    preloaded = _preloaded(settings)
    return preloaded[0] if preloaded else _build_embedder(settings)


def load_reranker(settings: Settings, embedder: Embedder) -> Reranker | None:
    """The cross-encoder over the bundled model; None when switched off (``RAG_RERANK``),
    with an embedder that is not the bundled model (the hash embedder), or without its
    weights file. The preloaded one when it was built beside ``embedder``."""
    preloaded = _preloaded(settings)
    if preloaded and preloaded[0] is embedder:
        return preloaded[1]
    return _build_reranker(settings, embedder)


def _build_embedder(settings: Settings) -> Embedder:
    if settings.models.backend == "torch":
        from rag.runtime.embedding import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(settings.models.model_path)
    from rag.runtime.encoder import OnnxEmbedder
    from rag.runtime.files import ModelFiles
    from rag.runtime.sessions import open_session

    files = ModelFiles.from_settings(settings)
    int8 = bool(settings.models.int8_encoder)
    session = open_session(files.encoder(int8), _exporter("encoder", files, int8), ("tokens",))
    return OnnxEmbedder(session, files.model_dir, window_s=settings.models.batch_window_ms / 1e3)


def _build_reranker(settings: Settings, embedder: Embedder) -> Reranker | None:
    from rag.runtime.embedding import MODEL_NAME

    if not settings.models.rerank or getattr(embedder, "name", None) != MODEL_NAME:
        return None
    weights = Path(settings.models.reranker_path)
    if not weights.exists():
        log.warning("no reranker weights at %s: answering without it", weights)
        return None
    if settings.models.backend == "torch":
        if not callable(getattr(embedder, "run", None)):  # it shares the torch model's thread
            return None
        from rag.runtime.reranking import CrossEncoderReranker

        return CrossEncoderReranker(embedder, weights)
    from rag.runtime.crossencoder import OUTPUTS, OnnxReranker
    from rag.runtime.files import ModelFiles
    from rag.runtime.sessions import open_session

    files = ModelFiles.from_settings(settings)
    int8 = bool(settings.models.int8_reranker)
    session = open_session(files.reranker(int8), _exporter("reranker", files, int8), OUTPUTS)
    return OnnxReranker(session, files.model_dir, window_s=settings.models.batch_window_ms / 1e3)


def _exporter(kind: str, files: Any, int8: bool) -> Callable[[], Path]:
    """The export of one file, importing torch only when it is called."""

    def run() -> Path:
        from rag.runtime import export

        fn = export.export_encoder if kind == "encoder" else export.export_reranker
        return fn(files, int8)

    return run
