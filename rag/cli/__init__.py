"""The ``rag`` command: ``main`` runs it, ``args`` declares it, ``view`` prints answers,
``chatlog`` keeps ``rag ask -c``'s conversation file. Thin: every command calls the library."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """The ``rag`` console script: ``rag.cli.commands.main``, imported when run (so importing
    ``rag.cli`` costs nothing)."""
    from rag.cli.commands import main as run

    return run(argv)
