"""With RAG_DATABASE_URL set, the per-client rate limit is one budget for every host: two
API instances (each with its own index folder, so each would have its own counter file)
on one real PostgreSQL spend from the same buckets."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.ratelimit import SharedRateLimiter
from rag.engine import Engine
from rag.errors import RateLimitError
from rag.models import Article
from rag.runtime.embedding import HashEmbedder
from rag.settings import Settings
from tests.pgserver import postgres_server, postgres_url  # noqa: F401

pytestmark = pytest.mark.postgres


def _host(tmp_path: Path, name: str, url: str, per_minute: int) -> TestClient:
    """One API host: its own index folder, the shared database."""
    settings = Settings(
        index_dir=tmp_path / name,
        database_url=url,
        rate_limit_per_minute=per_minute,
        rerank=False,
        allowed_hosts=["testserver"],
    )
    return TestClient(create_app(settings, Engine(settings, HashEmbedder())))


def test_two_hosts_share_one_budget_per_client(tmp_path: Path, postgres_url: str) -> None:  # noqa: F811
    Engine(Settings(database_url=postgres_url, rerank=False), HashEmbedder()).ingest(
        [Article("w", "Walruses", "Walruses live in the Arctic. They eat clams.")]
    )
    first, second = (_host(tmp_path, n, postgres_url, per_minute=4) for n in ("a", "b"))
    search = {"q": "Where do walruses live?"}
    codes = [host.get("/search", params=search).status_code for host in (first, second) * 3]
    assert codes == [200, 200, 200, 200, 429, 429]  # four in all, not four on each host
    refused = second.get("/search", params=search)
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    for name in ("a", "b"):  # the per-host counter file was never used
        assert not (tmp_path / name / "ratelimit.sqlite").exists()


def test_concurrent_checks_from_two_hosts_take_exactly_the_budget(postgres_url: str) -> None:  # noqa: F811
    per_minute = 30
    hosts = [SharedRateLimiter(per_minute, postgres_url) for _ in range(2)]
    taken: list[int] = []

    def hammer(limiter: SharedRateLimiter) -> None:
        for _ in range(25):
            try:
                limiter.check("203.0.113.7")
            except RateLimitError:
                continue
            taken.append(1)

    started = time.monotonic()
    threads = [threading.Thread(target=hammer, args=(h,)) for h in hosts for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refill = (time.monotonic() - started) * per_minute / 60  # tokens back while it ran
    assert per_minute <= len(taken) <= per_minute + 1 + refill  # 100 tries, one budget
    hosts[0].check("198.51.100.9")  # another client still has its own budget


def test_an_unreachable_database_lets_requests_through_without_waiting() -> None:
    limiter = SharedRateLimiter(1, "postgresql://rag@127.0.0.1:1/none")
    started = time.monotonic()
    for _ in range(5):
        limiter.check("203.0.113.7")  # no 429, no exception: the compute queue still protects
    assert time.monotonic() - started < 5
