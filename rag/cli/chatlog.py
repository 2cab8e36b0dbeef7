"""`rag ask -c`: the last exchanges of the command line's conversation, kept beside the index.

Contract. Every ``rag ask QUESTION`` records its exchange in ``<index>-conversation.json``
beside the index folder (like ``rag.feedback``'s file: rebuilding or deleting the index keeps
it); without ``-c`` the question starts a new conversation, with ``-c`` it continues the last
one and is resolved against it (``rag.answering.conversation``), like ``llm -c``. Only the last
``KEPT_TURNS`` exchanges are kept. A missing, unreadable or malformed file is an empty
conversation (a warning says so): it holds nothing that cannot be asked again; a file that
cannot be written is a warning too. Writes go to a
temporary file renamed over the old one, so an interrupted write never leaves half a file.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from rag.answering.conversation import HISTORY_TURNS, Turn
from rag.settings import Settings

log = logging.getLogger(__name__)
KEPT_TURNS = HISTORY_TURNS  # exchanges kept: as many as a follow-up is resolved against
ANSWER_CHARS = 2000  # an answer is kept up to this length (a follow-up reads its start)


def conversation_file(settings: Settings) -> Path:
    """Where the command line's conversation lives: beside the index folder, named after it."""
    index = Path(settings.storage.index_dir).absolute()
    return index.parent / f"{index.name}-conversation.json"


def load(path: Path) -> list[Turn]:
    """The kept turns, oldest first (none when the file is missing or unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        turns = [Turn(str(t["question"]), str(t.get("answer", ""))) for t in data["turns"]]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.warning("the conversation in %s could not be read (%s): starting a new one", path, e)
        return []
    return turns[-KEPT_TURNS:]


def save(path: Path, turns: list[Turn]) -> None:
    """Keep the last ``KEPT_TURNS`` of ``turns`` in ``path``, replacing it whole; a file that
    cannot be written is a warning (the answer was given; only ``-c`` will lack it)."""
    try:
        _write(path, turns)
    except OSError as e:
        log.warning("the conversation could not be kept in %s (%s)", path, e)


def _write(path: Path, turns: list[Turn]) -> None:
    kept = [
        {"question": t.question, "answer": t.answer[:ANSWER_CHARS]} for t in turns[-KEPT_TURNS:]
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"turns": kept}, f, ensure_ascii=False, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
