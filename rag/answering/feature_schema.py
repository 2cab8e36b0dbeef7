"""Named feature columns, shared by the code that computes features and the model files.

A :class:`FeatureSchema` names the columns of a feature matrix. Code writes and reads columns
by name (``schema.column("lex")``), never by position, and a model file stores its weights by
name together with the schema's ``digest``: loading a file whose names or digest differ from
the schema this code computes is refused, instead of a renamed feature silently weighing 0.

``version`` is part of the digest: bump it when a feature keeps its name but changes meaning,
so that files fitted on the old meaning are refused too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.errors import ModelFileError

DIGEST_CHARS = 16  # of the SHA-256 hex digest: enough to tell schemas apart, short in JSON


class SchemaMismatch(ValueError):
    """Names that do not match a schema (a model file fitted for another one)."""


@contextmanager
def reading_fitted(what: str, path: Path | str, fix: str) -> Iterator[None]:
    """Reading a fitted model file: any failure is one ``ModelFileError`` line naming the
    file, what is wrong (other features, or unreadable) and ``fix``."""
    try:
        yield
    except SchemaMismatch as exc:
        raise ModelFileError(
            f"the {what} file {path} was fitted for other features ({exc}); {fix}"
        ) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelFileError(
            f"cannot read the {what} file {path} ({type(exc).__name__}); {fix}"
        ) from None


@dataclass(frozen=True)
class FeatureSchema:
    """An ordered tuple of unique feature names, with a version and a digest."""

    version: int
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(set(self.names)) != len(self.names):
            raise ValueError("feature names must be unique")

    def __len__(self) -> int:
        return len(self.names)

    def column(self, name: str) -> int:
        """The column of ``name`` (a ``KeyError`` for a name not in the schema)."""
        return self._columns[name]

    @cached_property
    def _columns(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    @property
    def digest(self) -> str:
        text = f"{self.version}:" + ",".join(self.names)
        return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_CHARS]

    def check(self, names: Iterable[str]) -> None:
        """Refuse ``names`` unless they are exactly this schema's (in any order)."""
        given = list(names)
        missing = [n for n in self.names if n not in given]
        unknown = [n for n in given if n not in self.names]
        if missing or unknown:
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unknown {', '.join(unknown)}"] if unknown else []
            )
            raise SchemaMismatch("; ".join(parts))

    def vector(self, values: Mapping[str, float]) -> np.ndarray:
        """``values`` in column order; every name must be given, and no other."""
        self.check(values)
        return np.array([values[n] for n in self.names], dtype=np.float64)

    def ordered(self, weights: Mapping[str, float]) -> tuple[float, ...]:
        """Weights keyed by name, in column order (refused unless the names match)."""
        self.check(weights)
        return tuple(float(weights[n]) for n in self.names)

    def named(self, weights: Iterable[float]) -> dict[str, float]:
        """Weights in column order, keyed by name."""
        return dict(zip(self.names, weights, strict=True))
