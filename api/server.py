"""``rag serve``: build the seed index if there is none, then run uvicorn.

Start-up order, for a short time to ``/ready``: with one worker the models start loading in a
background thread (``rag.runtime.preload``) before anything else is imported; meanwhile the
settings and the port are checked, the seed index is built if missing, and the engine, the app
(FastAPI, the routes and their schemas) and uvicorn are imported and built while another thread
opens the index. The model files are
read and optimised by onnxruntime outside Python's lock, so the two overlap instead of following
each other.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
import threading
from typing import TYPE_CHECKING, Any

from rag.errors import RagError
from rag.settings import Settings, load_settings

if TYPE_CHECKING:
    from rag.engine import Engine

log = logging.getLogger(__name__)


def ensure_index(engine: Engine) -> None:
    """Build the index from ``RAG_SEEDS_DIR`` when ``engine``'s has none."""
    storage = engine.settings.storage
    if engine.has_index() or not storage.seeds_dir.exists():
        return
    log.warning("no index at %s: building it from %s", storage.index_dir, storage.seeds_dir)
    loaded = engine.load_sources([str(storage.seeds_dir)])
    engine.ingest(loaded.articles)


def _open_index(engine: Engine) -> None:
    """Open the index's current view while the app imports (the start-up's own ``snapshot``
    then finds it open, or reports the error this one swallows)."""
    try:
        engine.snapshot()
    except Exception:  # noqa: BLE001 - the lifespan opens it again and says what is wrong
        log.debug("opening the index ahead of the app failed", exc_info=True)


# Workers are separate processes started by uvicorn: the parent hands them its settings whole,
# as JSON in this variable, so command-line options (--index, --database-url) reach them too.
SETTINGS_ENV = "RAG_SERVE_SETTINGS_JSON"


def app_factory() -> object:
    """For ``uvicorn --factory`` with several workers: the parent's settings, passed whole."""
    from api.app import create_app

    passed = os.environ.get(SETTINGS_ENV)
    return create_app(Settings.model_validate_json(passed) if passed else load_settings())


def with_bound_name(settings: Settings, host: str) -> Settings:
    """``rag serve --host NAME``: NAME is a name of this server (``api.crosssite``'s Host
    rule); addresses such as 0.0.0.0 add nothing (every IP address is accepted already)."""
    name = host.strip().lower()
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        hosts = settings.api.allowed_hosts
        if name and name not in hosts:
            return settings.model_copy(update={"allowed_hosts": [*hosts, name]})
    return settings


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> int:
    """Serve until stopped. uvicorn's own X-Forwarded-For handling is off (by default it
    believes the header from loopback peers); ``api.security`` decides whom to believe."""
    if workers == 1:  # first: the models load while everything below imports
        from rag import runtime

        runtime.preload(settings)
    from api.security import check_settings
    from rag.engine import Engine

    check_settings(settings)
    check_port(host, port)  # before building the seed index and saying "serving on"
    settings = with_bound_name(settings, host)
    logging.getLogger().setLevel(logging.INFO)
    engine = Engine(settings)  # the one worker serves with it; several only build the index
    ensure_index(engine)
    app = _one_worker_app(settings, engine) if workers == 1 else None
    where = "the database" if settings.storage.database_url else settings.storage.index_dir
    print(f"serving on http://{host}:{port}/ (index: {where})", flush=True)
    try:
        _run(settings, host, port, workers, app)
    except SystemExit as exc:  # uvicorn exits when it cannot bind or start (a race, or bad host)
        if exc.code not in (0, None):
            raise RagError(f"the server stopped: it could not start on {host}:{port}") from None
    return 0


def check_port(host: str, port: int) -> None:
    """A one-line ``RagError`` when nothing could listen on ``host:port`` now (in use, not an
    address of this machine, or not allowed); bound the way uvicorn binds (SO_REUSEADDR)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise RagError(f"cannot serve on {host}:{port}: unknown host ({exc})") from None
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise RagError(
                    f"cannot serve on {host}:{port}: the port is in use (another `rag serve`?); "
                    "choose another with --port"
                ) from None
            raise RagError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None


def _one_worker_app(settings: Settings, engine: Engine) -> Any:
    """The app one worker serves, built while the index opens and the models load; it waits
    for the models, so one that cannot load is a one-line error here, not a traceback from
    uvicorn's start-up."""
    threading.Thread(target=_open_index, args=(engine,), name="open-index", daemon=True).start()
    import uvicorn  # noqa: F401  (imported here, while the models and the index load)

    from api.app import create_app

    app = create_app(settings, engine)
    _ = engine.embedder, engine.reranker
    return app


def _run(settings: Settings, host: str, port: int, workers: int, app: Any) -> None:
    """uvicorn with ``app`` (one worker), or with ``workers`` processes that each build one."""
    import uvicorn

    if app is None:
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
        uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
