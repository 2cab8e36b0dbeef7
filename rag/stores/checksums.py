"""Checksums of a segment's files: recorded when the segment is written, verified on open.

A segment never changes after it is written, so one digest per file says whether the bytes on
disk are still the bytes written. ``seal`` records ``{file: [bytes, digest]}`` in the
segment's ``meta.json``, plus a digest of ``meta.json``'s own content; ``verify`` compares
sizes first (a truncated file costs nothing to find), then digests, and raises
``SegmentDamaged`` naming the first file that differs. The local store opens each segment
once per process, so each file is read once per process (a 100k-chunk segment, 734 MB:
0.15-0.3 s with the files in the page cache, 0.8 s from disk; ``bench/checksum_bench.py``).

Segments written before checksums existed have none: they open unverified, and get
checksums when a merge writes them again (a tier merge, ``rag compact`` over several
segments) or ``rag ingest --rebuild`` replaces them.
Writing checksums into an existing folder on open would make readers write, and segments
are shared by every process reading the index.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import xxhash

ALGORITHM = "xxh3_128"  # why: ~10 GB/s, so verifying costs about what reading the file costs
BLOCK = 1 << 24  # why: 16 MiB reads: few system calls, bounded memory
FILES = "files"  # meta.json key: {file name: [size in bytes, hex digest]}
SELF = "meta_digest"  # meta.json key: the digest of the rest of meta.json


class SegmentDamaged(ValueError):
    """A segment file differs from what was written (truncated, flipped bytes, missing)."""


def file_digest(path: Path) -> str:
    hasher = xxhash.xxh3_128()
    buffer = bytearray(BLOCK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        while size := fh.readinto(buffer):
            hasher.update(view[:size])
    return hasher.hexdigest()


def _meta_digest(meta: dict[str, Any]) -> str:
    rest = {k: v for k, v in meta.items() if k != SELF}
    return xxhash.xxh3_128(json.dumps(rest, sort_keys=True).encode()).hexdigest()


def seal(meta: dict[str, Any], folder: Path, names: Iterable[str]) -> dict[str, Any]:
    """``meta`` with the size and digest of each named file in ``folder``, and its own."""
    files = {n: [(folder / n).stat().st_size, file_digest(folder / n)] for n in sorted(names)}
    sealed = {**meta, "checksum": ALGORITHM, FILES: files}
    sealed[SELF] = _meta_digest(sealed)
    return sealed


def verify(meta: dict[str, Any], folder: Path) -> bool:
    """Check every recorded file of the segment in ``folder``; False when it has no
    checksums (an older segment). A missing file raises FileNotFoundError (a merge may have
    just removed the folder; the caller decides), any other difference ``SegmentDamaged``."""
    if FILES not in meta:
        return False
    if meta.get(SELF) != _meta_digest(meta):
        raise SegmentDamaged(f"{folder / 'meta.json'} differs from what was written")
    for name, (size, digest) in meta[FILES].items():
        path = folder / name
        actual = path.stat().st_size
        if actual != size:
            raise SegmentDamaged(f"{path} is {actual:,} bytes, {size:,} were written (truncated?)")
        if file_digest(path) != digest:
            raise SegmentDamaged(f"{path} differs from the checksum written with it")
    return True
