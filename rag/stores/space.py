"""A full disk as one clear error: which path is full, how much the write needed.

Stores wrap their writes in :func:`full_disk_as_error`; an ``OSError`` with ``ENOSPC`` or
``EDQUOT`` (a segment file; numpy reports a short write as "N requested and M written"
without an errno), SQLite's "database or disk is full" (the catalog) or
PostgreSQL's ``disk_full`` becomes a :class:`~rag.errors.StorageFullError` whose message
names the path, the space left there and about how many bytes the write needed.
"""

from __future__ import annotations

import errno
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import StorageFullError

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
SQLITE_FULL = 13  # SQLite's result code for "database or disk is full"
PG_DISK_FULL = "53100"  # PostgreSQL's SQLSTATE disk_full
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")  # numpy's ndarray.tofile


def is_full_disk(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the quota) ran out of space."""
    if isinstance(exc, OSError):
        return exc.errno in FULL_ERRNOS or (
            exc.errno is None and bool(_SHORT_WRITE.search(str(exc)))
        )
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == SQLITE_FULL or "disk is full" in str(exc)
    return getattr(exc, "sqlstate", None) == PG_DISK_FULL


def storage_full(where: Path | str, needed: int | None, exc: BaseException) -> StorageFullError:
    """The error for a write of about ``needed`` bytes (None: unknown) that found ``where``
    full; ``where`` is a path, or words for a disk elsewhere (the database server's)."""
    if isinstance(where, str) and not where.startswith(("/", ".")):
        path, left = where, ""
    else:
        path = str(getattr(exc, "filename", None) or where)
        free = _free_bytes(Path(path))
        left = f" ({human(free)} left)" if free is not None else ""
    size = f"; this write needed about {human(needed)}" if needed is not None else ""
    return StorageFullError(
        f"no space left on the disk holding {path}{left}{size}: free some space and run it again"
    )


@contextmanager
def full_disk_as_error(where: Path | str, needed: Callable[[], int]) -> Iterator[None]:
    """Turn a full disk inside the block into a :class:`StorageFullError` naming ``where``
    and ``needed()`` bytes (computed only when the disk is full)."""
    try:
        yield
    except StorageFullError:
        raise
    except Exception as exc:
        if not is_full_disk(exc):
            raise
        raise storage_full(where, needed(), exc) from None


def human(n: int) -> str:
    """Bytes as a short human-readable size (``1.5 MB``)."""
    size = float(n)
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _free_bytes(path: Path) -> int | None:
    for candidate in (path, *path.parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None
