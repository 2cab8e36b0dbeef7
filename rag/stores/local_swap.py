"""Swapping a local store rebuilt aside into the index folder, in one catalog transaction.

A rebuild writes a whole store (catalog and segments) in ``INDEX/.rebuild/``. The swap, under
the index's writer lock:

1. moves each of its segment folders into ``INDEX/segments/`` under a name the index has
   never used (readers of the old index never open them: no committed state lists them);
2. in one transaction of the index's catalog, replaces every article, segment, tombstone and
   band row by the rebuilt store's (read through ``ATTACH``) and bumps ``meta.version``.

The COMMIT of step 2 is the swap: before it the old index is whole (the moved folders are
orphans, which the next writer removes); after it the new one is, and readers build their
next view from it at their next question. Article keys need no renumbering: the rebuilt
store took them from the old index's counter (``LocalStore(keys_from=...)``).
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from pathlib import Path

from rag.stores.catalog import ARTICLE_COLUMNS, CATALOG, Catalog
from rag.stores.segment import fsync_dir

log = logging.getLogger(__name__)

# the meta keys a rebuilt store brings (the counters and version are the index's own)
BUILT_WITH = ("format_version", "model", "dimension", "chunking")
_NUMBERED = re.compile(r"(?:\.tmp-)?seg-(\d+)$")


def swap_in(root: Path, catalog: Catalog, aside: Path) -> None:
    """Make the store in ``aside`` the index at ``root`` (under root's writer lock)."""
    con = catalog.connection()
    con.execute("ATTACH DATABASE ? AS fresh", (str(aside / CATALOG),))
    try:
        names = [r[0] for r in con.execute("SELECT name FROM fresh.segments ORDER BY name")]
        first = _next_segment_number(root, catalog)
        renamed = {name: f"seg-{first + i:08d}" for i, name in enumerate(names)}
        for old, new in renamed.items():
            (aside / "segments" / old).rename(root / "segments" / new)
        fsync_dir(root / "segments")
        with catalog.transaction():
            _replace_rows(con, renamed)
            _replace_meta(con, catalog, first + len(names))
    finally:
        con.execute("DETACH DATABASE fresh")
    log.info("swapped in the rebuilt index (%d segments)", len(names))


def _replace_rows(con: sqlite3.Connection, renamed: dict[str, str]) -> None:
    con.execute("CREATE TEMP TABLE IF NOT EXISTS renamed (old TEXT PRIMARY KEY, new TEXT)")
    con.execute("DELETE FROM temp.renamed")
    con.executemany("INSERT INTO temp.renamed VALUES (?, ?)", renamed.items())
    for table in ("articles", "segments", "dead", "bands"):
        con.execute(f"DELETE FROM main.{table}")
    columns = ARTICLE_COLUMNS.replace("segment,", "r.new,")
    con.execute(
        f"INSERT INTO main.articles ({ARTICLE_COLUMNS}) SELECT {columns} "
        "FROM fresh.articles JOIN temp.renamed r ON r.old = segment"
    )
    con.execute(
        "INSERT INTO main.segments SELECT r.new, s.rows FROM fresh.segments s "
        "JOIN temp.renamed r ON r.old = s.name"
    )
    con.execute(
        "INSERT INTO main.dead SELECT d.doc_key, r.new FROM fresh.dead d "
        "JOIN temp.renamed r ON r.old = d.segment"
    )
    con.execute("INSERT INTO main.bands SELECT band_key, doc_key FROM fresh.bands")


def _replace_meta(con: sqlite3.Connection, catalog: Catalog, next_segment: int) -> None:
    old = catalog.meta()
    built = {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM fresh.meta")}
    con.execute("DELETE FROM main.meta")
    Catalog.set_meta(
        con,
        **{k: built[k] for k in BUILT_WITH if k in built},
        version=int(old.get("version", 0)) + 1,
        next_doc_key=max(int(old.get("next_doc_key", 1)), int(built.get("next_doc_key", 1))),
        next_segment=next_segment,
    )


def _next_segment_number(root: Path, catalog: Catalog) -> int:
    """A segment number above every name in use: the catalog's counter, and any folder
    (one a replaced damaged catalog listed, or one left by a crash)."""
    numbers = [int(catalog.meta().get("next_segment", 1))]
    for path in (root / "segments").iterdir():
        found = _NUMBERED.match(path.name)
        if found:
            numbers.append(int(found.group(1)) + 1)
    return max(numbers)
