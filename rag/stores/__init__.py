"""Stores: where articles, chunks, sentences and vectors are kept (see ``base.py``).

``open_store(settings)`` picks the backend: PostgreSQL + pgvector when ``RAG_DATABASE_URL``
is set, otherwise the embedded local store in ``RAG_INDEX_DIR``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.settings import Settings
    from rag.stores.base import Store


def open_store(settings: Settings) -> Store:
    if settings.storage.database_url:
        from rag.stores.postgres import PostgresStore

        return PostgresStore(settings.storage.database_url)
    from rag.stores.local import LocalStore

    return LocalStore(settings.storage.index_dir)
