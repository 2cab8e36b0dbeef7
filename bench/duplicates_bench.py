"""Near-duplicate grouping: precision and recall per threshold on pairs built from real text.

Base articles are runs of five consecutive paragraphs of one SQuAD v1.1 article (``--squad``),
the seed article and the wire stories in tests/news/syndicated. Each base article gives
*same-story* pairs, a copy of it as outlets print wire copy:

- ``edited``: a few words added, one sentence dropped, "said" turned into "told reporters";
- ``heavily edited``: that three times over;
- ``reheadlined``: another headline and dateline, a byline, an agency sign-off;
- ``cut-60`` / ``cut-40``: the first 60% / 40% of its sentences;
- ``reheadlined+edited+cut-60``: all of the above at once.

*Different-story* pairs are different runs of paragraphs of one SQuAD article (the same topic,
other sentences), such a run with one or two paragraphs of the other inserted (a follow-up that
repeats background from an earlier story), the independent reports on one event in
tests/news/syndicated, and random pairs of bases. A pair is grouped when the two share an LSH
band key and their estimated containment reaches the threshold, as
``rag.answering.duplicates.assign_groups`` decides.

    python bench/duplicates_bench.py [--squad PATH] [--shingles 3 4 5] [--per-title 4] [--cost]

``--cost`` also times what grouping adds to an ingest: the signature and band keys of each
article, and ``assign_groups`` (signature plus the store's candidate lookup) for one new
article against a local store holding every base and copy.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, SQUAD, table  # noqa: E402
from rag.answering import duplicates  # noqa: E402
from rag.articles.loading import load_paths  # noqa: E402
from rag.models import Article  # noqa: E402
from rag.text import split_sentences  # noqa: E402

THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
FILLERS = ("also", "then", "now", "still", "reportedly", "however")
INDEPENDENT = {"ledger-report.md", "wire-followup.txt"}  # same event, written apart


def squad_bases(path: Path, per_title: int) -> list[list[Article]]:
    """Per SQuAD article, up to ``per_title`` runs of five paragraphs (one topic each)."""
    out = []
    for a in json.loads(path.read_text("utf-8"))["data"]:
        paras = [p["context"] for p in a["paragraphs"]]
        runs = [paras[i : i + 5] for i in range(0, len(paras) - 4, 5)][:per_title]
        title = a["title"].replace("_", " ")
        out.append(
            [
                Article(f"{title}-{i}", title, f"{title}\n\n" + "\n\n".join(r))
                for i, r in enumerate(runs)
            ]
        )
    return [arts for arts in out if arts]


def sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


def body(a: Article) -> str:
    """The article without its first line when that is the headline."""
    first, _, rest = a.text.partition("\n\n")
    return rest if rest and first.strip() == a.title.strip() else a.text


def edited(text: str, rng: random.Random) -> str:
    sents = sentences(text)
    if len(sents) > 4:
        del sents[rng.randrange(1, len(sents) - 1)]
    words = " ".join(sents).replace(" said", " told reporters", 1).split(" ")
    for _ in range(max(2, len(words) // 60)):
        i = rng.randrange(len(words))
        words.insert(i, rng.choice(FILLERS))
    return " ".join(words)


def reheadlined(text: str, rng: random.Random) -> str:
    place = rng.choice(["LONDON", "NEW YORK", "PARIS", "TOKYO"])
    return (
        f"Exclusive: what we know so far\n\nBy Jane Doe\n\n{place}, May 3 (AP) - {text}"
        "\n\nReporting by Jane Doe; Editing by John Roe"
    )


def cut(text: str, share: float) -> str:
    sents = sentences(text)
    return " ".join(sents[: max(1, round(len(sents) * share))])


def reuses(a: Article, source: Article, n: int) -> Article:
    """``a`` with ``n`` paragraphs of ``source`` inserted as background (a follow-up story
    that repeats part of an earlier one)."""
    paras = body(a).split("\n\n")
    paras[2:2] = body(source).split("\n\n")[1 : 1 + n]
    return Article(f"{a.doc_id}+{source.doc_id}:{n}", a.title, "\n\n".join(paras))


def variants(a: Article, rng: random.Random) -> dict[str, Article]:
    text = body(a)
    made = {
        "edited": edited(text, rng),
        "heavily edited": edited(edited(edited(text, rng), rng), rng),
        "reheadlined": reheadlined(text, rng),
        "cut-60": cut(text, 0.6),
        "cut-40": cut(text, 0.4),
        "reheadlined+edited+cut-60": reheadlined(cut(edited(text, rng), 0.6), rng),
    }
    return {kind: Article(f"{a.doc_id}~{kind}", "Copy", t) for kind, t in made.items()}


def build_pairs(squad: Path, per_title: int, seed: int = 7) -> list[tuple[str, Article, Article]]:
    """(kind, a, b) pairs; kinds starting with "different" must not be grouped."""
    rng = random.Random(seed)
    groups = squad_bases(squad, per_title) if squad.exists() else []
    local = load_paths([ROOT / "seeds", ROOT / "tests" / "news" / "syndicated"]).articles
    wire = [a for a in local if a.doc_id not in INDEPENDENT and "short" not in a.doc_id]
    bases = [a for g in groups for a in g] + wire
    pairs = [(k, a, v) for a in bases for k, v in variants(a, rng).items()]
    for g in groups:
        for i in range(len(g)):
            for j in range(i + 1, len(g)):
                pairs.append(("different, same topic", g[i], g[j]))
                for n in (1, 2):
                    pairs.append((f"different, reuses {n} para", g[i], reuses(g[j], g[i], n)))
    by_id = {a.doc_id: a for a in local}
    for name in INDEPENDENT:
        for other in ("wire-reuters.txt", "herald-copy.md", "courier-short.md"):
            pairs.append(("different, same event", by_id[name], by_id[other]))
    for _ in range(len(bases)):
        a, b = rng.sample(bases, 2)
        pairs.append(("different, random", a, b))
    return pairs


def scores(pairs: list[tuple[str, Article, Article]], k: int) -> list[tuple[str, float]]:
    """(kind, containment) per pair; 0 when the pair shares no band key (never compared)."""
    cache: dict[str, bytes] = {}

    def sig(a: Article) -> bytes:
        if a.doc_id not in cache:
            cache[a.doc_id] = duplicates.signature(a, k)
        return cache[a.doc_id]

    out = []
    for kind, a, b in pairs:
        sa, sb = sig(a), sig(b)
        shared = set(duplicates.band_keys(sa)) & set(duplicates.band_keys(sb))
        out.append((kind, duplicates.containment(sa, sb) if shared else 0.0))
    return out


def report(scored: list[tuple[str, float]], k: int) -> list[list[object]]:
    kinds = sorted({kind for kind, _ in scored})
    rows: list[list[object]] = []
    for t in THRESHOLDS:
        tp = sum(1 for kind, s in scored if not kind.startswith("different") and s >= t)
        fp = sum(1 for kind, s in scored if kind.startswith("different") and s >= t)
        pos = sum(1 for kind, _ in scored if not kind.startswith("different"))
        grouped = [
            sum(1 for kd, s in scored if kd == kind and s >= t)
            / max(1, sum(1 for kd, _ in scored if kd == kind))
            for kind in kinds
        ]
        rows.append([k, t, tp / max(tp + fp, 1), tp / max(pos, 1), fp, *grouped])
    return rows


def cost(pairs: list[tuple[str, Article, Article]]) -> None:
    import statistics
    import tempfile
    import time

    from rag.ingest.chunking import Chunker, ChunkingParams
    from rag.ingest.indexing import prepare
    from rag.runtime.embedding import HashEmbedder
    from rag.stores.base import StoreInfo
    from rag.stores.local import LocalStore

    arts = list({a.doc_id: a for _, x, y in pairs for a in (x, y)}.values())
    words = sum(len(a.text.split()) for a in arts)
    t0 = time.perf_counter()
    for a in arts:
        duplicates.band_keys(duplicates.signature(a))
    took = time.perf_counter() - t0
    print(f"signature + band keys: {took / len(arts) * 1e3:.2f} ms an article, ", end="")
    print(f"{took / words * 1e6:.2f} ms per 1,000 words ({len(arts)} articles)")
    embedder = HashEmbedder()
    info = StoreInfo(embedder.name, embedder.dimension, {})
    chunker = Chunker(lambda t: len(t.split()), ChunkingParams(254, 40))
    store = LocalStore(Path(tempfile.mkdtemp()) / "index")
    ready = list(prepare(arts[1:], embedder, chunker))
    for i in range(0, len(ready), 200):
        store.write(info, duplicates.assign_groups(store, ready[i : i + 200]))
    [new] = prepare(arts[:1], embedder, chunker)
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        duplicates.assign_groups(store, [new])
        times.append(time.perf_counter() - t0)
    print(
        f"assign_groups, one article against {store.counts()['articles']} stored: "
        f"{statistics.median(times) * 1e3:.1f} ms (median of 20)"
    )
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SQUAD)
    parser.add_argument("--shingles", type=int, nargs="+", default=[duplicates.SHINGLE_WORDS])
    parser.add_argument("--per-title", type=int, default=4, help="paragraph runs per SQuAD title")
    parser.add_argument("--cost", action="store_true", help="also time grouping at ingest")
    args = parser.parse_args()
    pairs = build_pairs(args.squad, args.per_title)
    counts: dict[str, int] = {}
    for kind, _, _ in pairs:
        counts[kind] = counts.get(kind, 0) + 1
    print("pairs:", ", ".join(f"{k} {n}" for k, n in sorted(counts.items())))
    kinds = sorted(counts)
    headers = ["shingle words", "threshold", "precision", "recall", "false groupings"]
    rows = []
    for k in args.shingles:
        scored = scores(pairs, k)
        rows += report(scored, k)
        worst = max(s for kind, s in scored if kind.startswith("different"))
        print(f"shingles of {k} words: highest different-story containment {worst:.2f}")
    print("grouped share per kind of pair (same story: recall; different: false rate):")
    print(table(headers + [k.replace("different, ", "diff ") for k in kinds], rows))
    if args.cost:
        cost(pairs)


if __name__ == "__main__":
    main()
