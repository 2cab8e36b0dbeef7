"""``rag serve``: build the seed index if there is none, then run uvicorn."""

from __future__ import annotations

import ipaddress
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


# Workers are separate processes started by uvicorn: the parent hands them its settings whole,
# as JSON in this variable, so command-line options (--index, --database-url) reach them too.
SETTINGS_ENV = "RAG_SERVE_SETTINGS_JSON"


def app_factory() -> object:
    """For ``uvicorn --factory`` with several workers: the parent's settings, passed whole."""
    passed = os.environ.get(SETTINGS_ENV)
    return create_app(Settings.model_validate_json(passed) if passed else load_settings())


def with_bound_name(settings: Settings, host: str) -> Settings:
    """``rag serve --host NAME``: NAME is a name of this server (``api.crosssite``'s Host
    rule); addresses such as 0.0.0.0 add nothing (every IP address is accepted already)."""
    name = host.strip().lower()
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        if name and name not in settings.allowed_hosts:
            return settings.model_copy(update={"allowed_hosts": [*settings.allowed_hosts, name]})
    return settings


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> int:
    """Serve until stopped. uvicorn's own X-Forwarded-For handling is off (by default it
    believes the header from loopback peers); ``api.security`` decides whom to believe."""
    check_settings(settings)
    settings = with_bound_name(settings, host)
    logging.getLogger().setLevel(logging.INFO)
    ensure_index(settings)
    where = "the database" if settings.database_url else settings.index_dir
    print(f"serving on http://{host}:{port}/ (index: {where})", flush=True)
    if workers > 1:
        os.environ[SETTINGS_ENV] = settings.model_dump_json()
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
