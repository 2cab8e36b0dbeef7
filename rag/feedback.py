"""Readers' verdicts on answers (thumbs up or down), kept in a small SQLite file.

Design: one row per verdict in a SQLite file beside the index folder (``index`` ->
``index-feedback.sqlite``), not inside it, so that rebuilding or deleting the index never
loses what readers said. SQLite because every ``rag serve`` worker process appends to the
same file (its locking serialises the writes) and the standard library has it. Each call opens
its own short-lived connection, so the store is safe to share between threads and processes.
The question and the answer text are stored as given (bounded in length) so that a rating can
be read later without the index it was made against.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.settings import Settings

RATINGS = ("up", "down")
MAX_TEXT_CHARS = 20_000  # an answer is at most a few quoted sentences; more is not an answer
MAX_COMMENT_CHARS = 2_000  # a short note, not an essay
BUSY_TIMEOUT_S = 5.0  # how long a write waits for another worker's write to finish

_SCHEMA = """CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    question TEXT NOT NULL,
    answer TEXT NOT NULL DEFAULT '',
    comment TEXT NOT NULL DEFAULT '')"""


@dataclass(frozen=True)
class Feedback:
    """One verdict: ``rating`` is ``"up"`` or ``"down"``; ``created_at`` is Unix seconds."""

    id: int
    created_at: float
    rating: str
    question: str
    answer: str = ""
    comment: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def feedback_file(settings: Settings) -> Path:
    """Where an index's feedback lives: beside the index folder, named after it."""
    index = Path(settings.storage.index_dir).absolute()
    return index.parent / f"{index.name}-feedback.sqlite"


class FeedbackStore:
    """``add`` a verdict, ``recent`` ones newest first, ``counts`` per rating."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # closing(): close the file; ``conn``: one transaction, rolled back on error
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)) as conn, conn:
            conn.execute(_SCHEMA)
            yield conn

    def add(self, rating: str, question: str, answer: str = "", comment: str = "") -> Feedback:
        """Store one verdict; bad input is an ``InputError`` naming the field."""
        rating = _check_rating(rating)
        question = _check_text("question", question, MAX_TEXT_CHARS, required=True)
        answer = _check_text("answer", answer, MAX_TEXT_CHARS)
        comment = _check_text("comment", comment, MAX_COMMENT_CHARS)
        now = time.time()
        with self._connect() as conn:
            cur = conn.execute(
                "INSERT INTO feedback (created_at, rating, question, answer, comment) "
                "VALUES (?, ?, ?, ?, ?)",
                (now, rating, question, answer, comment),
            )
            row_id = int(cur.lastrowid or 0)
        return Feedback(row_id, now, rating, question, answer, comment)

    def recent(self, limit: int = 50, rating: str | None = None) -> list[Feedback]:
        """The latest ``limit`` verdicts (all ratings, or only ``rating``), newest first."""
        if limit < 1:
            raise InputError("limit must be 1 or more")
        if not self.path.exists():
            return []
        where, args = ("WHERE rating = ?", [_check_rating(rating)]) if rating else ("", [])
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, created_at, rating, question, answer, comment FROM feedback "
                f"{where} ORDER BY id DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [Feedback(*row) for row in rows]

    def counts(self) -> dict[str, int]:
        """How many verdicts of each rating are stored (every rating present, 0 when none)."""
        totals = dict.fromkeys(RATINGS, 0)
        if not self.path.exists():
            return totals
        with self._connect() as conn:
            for rating, n in conn.execute("SELECT rating, COUNT(*) FROM feedback GROUP BY 1"):
                totals[rating] = int(n)
        return totals


def _check_rating(rating: str | None) -> str:
    if rating not in RATINGS:
        raise InputError(f"rating must be 'up' or 'down', not {rating!r}")
    return rating


def _check_text(name: str, value: str, limit: int, required: bool = False) -> str:
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string")
    value = value.strip()
    if required and not value:
        raise InputError(f"{name} must not be empty")
    if len(value) > limit:
        raise InputError(f"{name} is {len(value)} characters; at most {limit} are kept")
    return value
