"""``rag serve``: build the seed index if there is none, then run uvicorn."""

from __future__ import annotations

import logging
import os

import uvicorn

from api.app import create_app
from api.security import check_settings
from rag.articles import load_paths
from rag.engine import Engine
from rag.settings import Settings, load_settings

log = logging.getLogger(__name__)


def ensure_index(settings: Settings) -> None:
    """Build the index from ``settings.seeds_dir`` when the index folder has none."""
    engine = Engine(settings)
    if engine.has_index() or not settings.seeds_dir.exists():
        return
    log.warning("no index at %s: building it from %s", settings.index_dir, settings.seeds_dir)
    loaded = load_paths([settings.seeds_dir])
    engine.ingest(loaded.articles)


def app_factory() -> object:
    """For ``uvicorn --factory`` with several workers: settings come from the environment."""
    return create_app(load_settings())


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> int:
    """Serve until stopped. uvicorn's own X-Forwarded-For handling is off (by default it
    believes the header from loopback peers); ``api.security`` decides whom to believe."""
    check_settings(settings)
    logging.getLogger().setLevel(logging.INFO)
    ensure_index(settings)
    print(f"serving on http://{host}:{port}/ (index: {settings.index_dir})", flush=True)
    if workers > 1:
        os.environ["RAG_INDEX_DIR"] = str(settings.index_dir)
        uvicorn.run(
            "api.server:app_factory",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            proxy_headers=False,
        )
    else:
        uvicorn.run(
            create_app(settings), host=host, port=port, log_level="info", proxy_headers=False
        )
    return 0
