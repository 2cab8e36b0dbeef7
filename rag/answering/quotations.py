"""Quotations that span sentences: one statement, quoted whole from its opening mark.

News runs a speaker's words over several sentences and names the speaker once, after the
last: ``"I want to thank every family for their patience. This should never have happened,"
Ruiz said.`` The sentence splitter cuts that in two, and only the second names Ruiz. Quoting it
alone cuts the statement in half. :func:`whole_quotation` widens a sentence to the quotation
it is part of: back to the quotation's opening mark when the sentence starts inside one, and
on to its closing mark when one opened in the sentence is still open at its end.

Design. Quotation marks are paired within one paragraph (a quotation never runs over a blank
line in news copy; a new paragraph of the same quotation re-opens the mark): curly marks by
their direction, straight ones by parity. A widened span stays inside the paragraph and at
most ``MAX_QUOTATION_CHARS`` long, so a stray mark cannot pull in a page.
"""

from __future__ import annotations

import re

MAX_QUOTATION_CHARS = 1200  # about 200 words: the longest quotations news runs in one piece
_OPEN, _CLOSE, _STRAIGHT = "\u201c", "\u201d", '"'


def whole_quotation(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` (a sentence of ``text``) widened to the whole quotation it is part
    of; unchanged when it is not inside one that crosses its edges."""
    lo, hi = _paragraph(text, start, end)
    new_start = _opening_before(text, lo, start)
    new_end = _closing_after(text, lo, end, hi)
    if new_end - new_start > MAX_QUOTATION_CHARS:
        return start, end
    return new_start, new_end


def _paragraph(text: str, start: int, end: int) -> tuple[int, int]:
    before = text.rfind("\n", 0, start)
    after = text.find("\n", end)
    return before + 1, len(text) if after < 0 else after


def _inside_at(text: str, lo: int, at: int) -> int | None:
    """Where the quotation open at ``at`` (reading from ``lo``) opened, or None."""
    opened: int | None = None
    for match in re.finditer(rf"[{_OPEN}{_CLOSE}{_STRAIGHT}]", text[lo:at]):
        mark, pos = match.group(0), lo + match.start()
        opens = mark == _OPEN or (mark == _STRAIGHT and opened is None)
        opened = pos if opens else None
    return opened


def _opening_before(text: str, lo: int, start: int) -> int:
    opened = _inside_at(text, lo, start)
    return start if opened is None else opened


def _closing_after(text: str, lo: int, end: int, hi: int) -> int:
    """The end of the quotation still open at ``end`` and of the attribution after its
    closing mark (up to the next full stop), else ``end``."""
    if _inside_at(text, lo, end) is None:
        return end
    close = re.compile(rf"[{_CLOSE}{_STRAIGHT}]").search(text, end, hi)
    if close is None:
        return end
    if text[close.start() - 1] != "," and not re.match(r"\s*[a-z]", text[close.end() : hi]):
        return close.end()  # the quotation ends its sentence: nothing attributes it after
    after = re.match(r"[^.!?\n]*[.!?]", text[close.end() : hi])  # ', Ruiz said.'
    return close.end() + (after.end() if after else 0)
