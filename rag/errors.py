"""The library's error hierarchy.

Each error carries a stable ``code`` (used in HTTP error bodies) and belongs to one of a few
families. The families are mapped once to HTTP status codes (``api.errors``) and once to CLI
exit codes (``rag.cli.commands``).
"""

from __future__ import annotations


class RagError(Exception):
    """Base class of every error the library raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InputError(RagError):
    """The caller gave something unusable: an empty question, a malformed file, ..."""

    code = "bad_input"


class NotFoundError(RagError):
    """A named thing (a document, a path) does not exist."""

    code = "not_found"


class IndexMissingError(RagError):
    """There is no index yet at the given location."""

    code = "index_missing"


class IndexCorruptError(RagError):
    """The index on disk is damaged or was built with another model or format."""

    code = "index_invalid"


class IndexMismatchError(IndexCorruptError):
    """Adding to an index that was chunked with other settings (sizes, sentence splitter)."""

    code = "index_mismatch"


class StoreUnavailableError(RagError):
    """The store cannot be used: an unreachable database, a missing extension, a schema from
    a newer version."""

    code = "store_unavailable"


class StorageFullError(RagError):
    """The disk (or quota) holding the index is full: nothing of the failed write is kept,
    and the message names the path and how much the write needed."""

    code = "storage_full"


class ModelFileError(RagError):
    """A model file (the embedding model, the reranker's weights, an export) is missing or
    damaged."""

    code = "model_invalid"


class ParserUnavailableError(RagError):
    """Pages cannot be parsed here: the parser's worker process does not start, or a library
    the parser needs is not installed (an install problem, not the page's)."""

    code = "parser_unavailable"


class AuthError(RagError):
    """Missing or wrong credentials for a protected operation."""

    code = "unauthorized"


class ForbiddenError(RagError):
    """The caller may not do this (e.g. writes from a non-loopback client without keys)."""

    code = "forbidden"


class RateLimitError(RagError):
    """Too many requests from one client."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float = 60.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds until the client may try again


class OverloadedError(RagError):
    """The server is at capacity (its queue for the models is full); try again shortly."""

    code = "overloaded"

    def __init__(self, message: str, *, retry_after: float = 2.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModelTimeoutError(OverloadedError):
    """A model call did not answer in time (``rag.runtime.batching``): the caller gets this
    instead of waiting forever; the server answers 503 with ``Retry-After``."""

    code = "model_timeout"


class PayloadTooLargeError(InputError):
    """A request body, upload or question is larger than the configured limit."""

    code = "payload_too_large"


class ArticleLimitError(InputError):
    """An article over a bound on the work it may cost (``rag.articles.limits``): too many HTML
    elements, too wide a block, too long a text, YAML aliases, a parse past its deadline."""

    code = "article_over_limit"


class MisdirectedError(InputError):
    """A request's ``Host`` is not a name of this server (``RAG_ALLOWED_HOSTS``)."""

    code = "bad_host"


def mapped(error: RagError, table: dict[type[RagError], int], default: int) -> int:
    """The value ``table`` gives the error's closest family (HTTP status, CLI exit code)."""
    for cls in type(error).__mro__:
        if cls in table:
            return table[cls]
    return default
