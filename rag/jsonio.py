"""Parsing JSON that comes from outside: uploads, question files, datasets, reports.

``json.loads`` raises ``RecursionError``, not a ``ValueError``, on input nested deeper than the
parser's stack (a few thousand ``[``); every caller already turns a ``ValueError`` into a
clear input error, so this one turns the recursion into a ``json.JSONDecodeError`` too.
"""

from __future__ import annotations

import json
from typing import Any


def loads(raw: str | bytes) -> Any:
    """``json.loads``, with too-deep nesting reported as a ``json.JSONDecodeError``."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", "", 0) from None
