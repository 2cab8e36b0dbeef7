"""A full disk as one clear error: which path is full, how much the write needed.

Stores wrap their writes in :func:`full_disk_as_error`; an ``OSError`` with ``ENOSPC`` or
``EDQUOT`` (a segment file), SQLite's "database or disk is full" (the catalog) or
PostgreSQL's ``disk_full`` becomes a :class:`~rag.errors.StorageFullError` whose message
names the path, the space left there and about how many bytes the write needed.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import StorageFullError

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
SQLITE_FULL = 13  # SQLite's result code for "database or disk is full"
PG_DISK_FULL = "53100"  # PostgreSQL's SQLSTATE disk_full


def is_full_disk(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the quota) ran out of space."""
    if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
        return True
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == SQLITE_FULL or "disk is full" in str(exc)
    return getattr(exc, "sqlstate", None) == PG_DISK_FULL


def storage_full(where: Path | str, needed: int, exc: BaseException) -> StorageFullError:
    """The error for a write of about ``needed`` bytes that found ``where`` full."""
    path = Path(getattr(exc, "filename", None) or where)
    free = _free_bytes(path)
    left = f" ({human(free)} left)" if free is not None else ""
    return StorageFullError(
        f"no space left on the disk holding {path}{left}; this write needed about "
        f"{human(needed)}: free some space and run it again (nothing of it was kept)"
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
