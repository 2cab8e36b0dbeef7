"""SQL shared by the SQL backends (the local store's SQLite catalog and PostgreSQL).

Both keep articles in an ``articles`` table of the same columns; what they say to it in the
same words lives here, with the placeholder (``?`` or ``%s``) left to the caller. The port
(``rag.stores.base``) knows none of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rag.models import Filters
from rag.stores.base import ArticleRecord

# The article columns both backends select, in ArticleRecord's order (``record_from_row``);
# an article stored before story groups existed is its own group.
ARTICLE_FIELDS = (
    "doc_id, title, text, url, date, source, content_hash, ingested_at, author, doc_key, "
    "entities, coalesce(group_id, doc_id)"
)

# Relabel the members of group :1 other than article :1 to their smallest doc_id (the
# parameter is given four times; ``{mark}`` is the backend's placeholder). A write runs it for
# each label ``rag.stores.base.groups_left`` names.
RELABEL_SQL = (
    "UPDATE articles SET group_id = (SELECT min(doc_id) FROM articles "
    "WHERE group_id = {mark} AND doc_id <> {mark}) WHERE group_id = {mark} AND doc_id <> {mark}"
)


def record_from_row(row: Sequence[Any]) -> ArticleRecord:
    """An :class:`ArticleRecord` from a row of ``ARTICLE_FIELDS``."""
    fields = list(row)
    fields[10] = fields[10] or "[]"
    return ArticleRecord(*fields)


def filter_sql(
    f: Filters, date: str = "date", source: str = "source", doc_id: str = "doc_id", mark: str = "?"
) -> tuple[str, list[str]]:
    """A WHERE clause for ``f``; dates compare on their first ten characters (YYYY-MM-DD),
    sources case-insensitively."""
    parts, args = ["1=1"], []
    if f.source is not None:
        parts.append(f"lower({source}) = lower({mark})")
        args.append(f.source)
    if f.doc_id is not None:
        parts.append(f"{doc_id} = {mark}")
        args.append(f.doc_id)
    if f.date_from:
        parts.append(f"substr({date}, 1, 10) >= {mark}")
        args.append(f.date_from[:10])
    if f.date_to:
        parts.append(f"substr({date}, 1, 10) <= {mark}")
        args.append(f.date_to[:10])
    return " AND ".join(parts), args
