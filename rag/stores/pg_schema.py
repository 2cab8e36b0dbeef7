"""The PostgreSQL store's schema, as numbered forward migrations.

``rag_schema`` holds the version a database is at. Opening a store applies the migrations it
lacks, in one transaction under an advisory lock (so two processes starting at once do not
race); a database at a newer version than this code knows is refused, never downgraded.
Tables that need the embedding dimension (``vector(D)``) are created by the first write,
which knows the model (``create_content``).

Lexical search is BM25 computed in SQL over a postings table (term, chunk, term frequency and
the chunk's length, so scoring reads one index range per term), with the collection's totals
in ``rag_stats``: the same formula and
statistics as the local store, so both backends rank alike.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 2
MIGRATION_LOCK = 7_314_021  # pg_advisory_xact_lock key for migrations
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE IF NOT EXISTS rag_meta (key text PRIMARY KEY, value jsonb NOT NULL);
    CREATE TABLE IF NOT EXISTS rag_stats (
        id int PRIMARY KEY CHECK (id = 1), chunks bigint NOT NULL, terms bigint NOT NULL);
    INSERT INTO rag_stats VALUES (1, 0, 0) ON CONFLICT DO NOTHING;
    CREATE TABLE IF NOT EXISTS articles (
        doc_key bigserial PRIMARY KEY, doc_id text UNIQUE NOT NULL, title text NOT NULL,
        text text NOT NULL, url text, date text, source text, author text,
        content_hash text NOT NULL, ingested_at text NOT NULL,
        chunks int NOT NULL, sentences int NOT NULL);
    CREATE INDEX IF NOT EXISTS articles_source ON articles (lower(source));
    CREATE INDEX IF NOT EXISTS articles_day ON articles (substr(date, 1, 10));
    """,
    # story groups and named entities: existing articles keep their rows, have no entities,
    # are their own group (group_id NULL reads as doc_id) and, without a MinHash signature,
    # are never offered as near-duplicate candidates
    2: """
    ALTER TABLE articles ADD COLUMN IF NOT EXISTS entities text NOT NULL DEFAULT '[]';
    ALTER TABLE articles ADD COLUMN IF NOT EXISTS group_id text;
    ALTER TABLE articles ADD COLUMN IF NOT EXISTS minhash bytea;
    CREATE INDEX IF NOT EXISTS articles_group ON articles (group_id);
    CREATE TABLE IF NOT EXISTS bands (
        band_key bigint NOT NULL,
        doc_key bigint NOT NULL REFERENCES articles ON DELETE CASCADE,
        PRIMARY KEY (band_key, doc_key));
    CREATE INDEX IF NOT EXISTS bands_doc ON bands (doc_key);
    """,
}


def content_ddl(dimension: int) -> str:
    """Tables whose vector columns need the model's dimension (created on first write)."""
    d = int(dimension)
    return f"""
    CREATE TABLE IF NOT EXISTS chunks (
        handle bigint PRIMARY KEY,
        doc_key bigint NOT NULL REFERENCES articles ON DELETE CASCADE,
        start int NOT NULL, "end" int NOT NULL, sent_lo int NOT NULL, sent_hi int NOT NULL,
        n_terms real NOT NULL, embedding vector({d}) NOT NULL);
    CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc_key);
    CREATE INDEX IF NOT EXISTS chunks_hnsw ON chunks USING hnsw (embedding vector_ip_ops);
    CREATE TABLE IF NOT EXISTS sentences (
        handle bigint PRIMARY KEY,
        doc_key bigint NOT NULL REFERENCES articles ON DELETE CASCADE,
        start int NOT NULL, "end" int NOT NULL, embedding halfvec({d}) NOT NULL);
    CREATE INDEX IF NOT EXISTS sentences_doc ON sentences (doc_key);
    CREATE TABLE IF NOT EXISTS postings (
        term text NOT NULL, handle bigint NOT NULL, tf real NOT NULL, n_terms real NOT NULL,
        doc_key bigint NOT NULL REFERENCES articles ON DELETE CASCADE,
        PRIMARY KEY (term, handle) INCLUDE (tf, n_terms));
    CREATE INDEX IF NOT EXISTS postings_doc ON postings (doc_key);
    """


def migrate(con: Any, newest_known: int = SCHEMA_VERSION) -> int:
    """Bring the database to ``newest_known``; returns the version it was at.

    Raises ``ValueError`` when the database is at a newer version. A database that is up to
    date gets no write at all, so read-only replicas can be opened."""
    current = _version(con)
    if current > newest_known:
        raise ValueError(
            f"the database schema is at version {current}, newer than this "
            f"version of rag knows ({newest_known})"
        )
    if current == newest_known:
        return current
    with con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        con.execute("CREATE TABLE IF NOT EXISTS rag_schema (version int NOT NULL)")
        row = con.execute("SELECT max(version) FROM rag_schema").fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        if current > newest_known:
            raise ValueError(
                f"the database schema is at version {current}, newer than this "
                f"version of rag knows ({newest_known})"
            )
        for version in range(current + 1, newest_known + 1):
            con.execute(MIGRATIONS[version])
            con.execute("INSERT INTO rag_schema VALUES (%s)", (version,))
    return current


def _version(con: Any) -> int:
    if con.execute("SELECT to_regclass('rag_schema')").fetchone()[0] is None:
        return 0
    row = con.execute("SELECT max(version) FROM rag_schema").fetchone()
    return int(row[0]) if row and row[0] is not None else 0
