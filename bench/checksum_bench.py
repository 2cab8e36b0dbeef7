"""What verifying a segment's checksums costs when a process opens it (rag.stores.checksums).

    python bench/checksum_bench.py                 # a 100k-chunk segment, page cache warm
    python bench/checksum_bench.py --cold          # also after dropping the page cache (root)

Writing the segment takes minutes (its ANN index and postings); the opens take a second.

Writes one synthetic segment (random unit vectors of the bundled model's 384 dimensions,
SENTENCES_PER_CHUNK sentences per chunk, random terms) into a temporary folder, then times
``segment.load`` with checksums and without (the same segment with its checksums removed, as
an older segment), and ``checksums.verify`` alone. Every figure is the median of RUNS opens.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.models import Article  # noqa: E402
from rag.stores import checksums, segment  # noqa: E402
from rag.stores.base import PreparedArticle  # noqa: E402

DIMENSION = 384  # all-MiniLM-L6-v2
SENTENCES_PER_CHUNK = 6  # the seed index has 17 sentences over 3 chunks
CHUNKS_PER_ARTICLE = 4
RUNS = 5


def _articles(chunks: int) -> list[tuple[int, PreparedArticle]]:
    rng = np.random.default_rng(0)
    vocab = [f"term{i}" for i in range(50_000)]
    out = []
    for key in range(chunks // CHUNKS_PER_ARTICLE):
        n, m = CHUNKS_PER_ARTICLE, CHUNKS_PER_ARTICLE * SENTENCES_PER_CHUNK
        vecs = rng.standard_normal((n, DIMENSION)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        starts = np.arange(m) * 100
        lo = np.arange(n) * SENTENCES_PER_CHUNK
        terms = tuple(tuple(rng.choice(vocab, 80)) for _ in range(n))
        out.append(
            (
                key + 1,
                PreparedArticle(
                    Article(f"a{key}", "t", "x"),
                    lo * 100,
                    (lo + SENTENCES_PER_CHUNK) * 100,
                    lo,
                    lo + SENTENCES_PER_CHUNK,
                    starts,
                    starts + 90,
                    vecs,
                    rng.standard_normal((m, DIMENSION)).astype(np.float16),
                    terms,
                ),
            )
        )
    return out


def _drop_cache() -> None:
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("1\n")


def _median(fn: object, cold: bool) -> float:
    times = []
    for _ in range(RUNS):
        if cold:
            _drop_cache()
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--cold", action="store_true", help="drop the page cache before each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sealed, plain = Path(tmp) / "sealed", Path(tmp) / "plain"
        start = time.perf_counter()
        segment.write(sealed, _articles(args.chunks), DIMENSION)
        print(f"wrote {args.chunks:,} chunks in {time.perf_counter() - start:.1f} s")
        shutil.copytree(sealed, plain)
        meta = json.loads((plain / "meta.json").read_text())
        for key in (checksums.FILES, checksums.SELF, "checksum"):
            meta.pop(key)
        (plain / "meta.json").write_text(json.dumps(meta))
        size = sum(p.stat().st_size for p in sealed.iterdir())
        print(f"segment: {size / 1e6:,.0f} MB in {len(list(sealed.iterdir()))} files")
        for cold in [False, True] if args.cold else [False]:
            with_sums = _median(lambda: segment.load(sealed), cold)
            without = _median(lambda: segment.load(plain), cold)
            verify = _median(
                lambda: checksums.verify(json.loads((sealed / "meta.json").read_text()), sealed),
                cold,
            )
            label = "cold" if cold else "warm"
            print(
                f"{label}: load with checksums {with_sums:.3f} s, without {without:.3f} s, "
                f"verify alone {verify:.3f} s ({size / 1e6 / verify:,.0f} MB/s)"
            )


if __name__ == "__main__":
    main()
