"""A parser that cannot run because of the install (a missing library) is one clear error
naming the fix, not a traceback; the worker that reported it stays usable."""

from __future__ import annotations

import pytest

from rag.articles.sandbox import run_parser
from rag.errors import ParserUnavailableError


def needs_a_missing_library(text: str) -> str:
    import a_library_that_is_not_installed  # type: ignore[import-not-found]  # noqa: F401

    return text


def test_a_missing_parser_library_is_one_error_naming_the_fix() -> None:
    with pytest.raises(ParserUnavailableError) as caught:
        run_parser(needs_a_missing_library, "<p>x</p>", timeout_s=30)
    assert "a_library_that_is_not_installed" in caught.value.message
    assert "pip install" in caught.value.message
    assert caught.value.code == "parser_unavailable"
    assert run_parser(str.upper, "still parses", timeout_s=30) == "STILL PARSES"
