"""The engine: one object that owns the models and the store, used by the CLI and the API.

Reads go through a :class:`~rag.stores.view.View` of the store's latest committed state, so a
question sees the archive before or after a write, never half of it. Writes embed articles in
bounded batches outside any lock, then hand them to the store, which commits each batch
atomically; other processes and hosts sharing the store see it on their next question.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast, get_args

from rag.answering.compose import POOL_DEPTH, Composition, Reading, compose, read
from rag.answering.conversation import Turn, resolve_turn
from rag.answering.duplicates import assign_groups, collapse_passages, stories_of, with_copies
from rag.answering.features import analyse
from rag.answering.latest import dated, nothing_in_range, prefer_latest
from rag.answering.scoring import Scorer, load_scorer
from rag.answering.span import with_spans
from rag.errors import (
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    InputError,
    NotFoundError,
    PayloadTooLargeError,
)
from rag.ingest.chunking import Chunker, ChunkingParams
from rag.ingest.indexing import prepare, progress_bar, take_chunks
from rag.models import (
    NO_FILTERS,
    Answer,
    Answered,
    Article,
    AskEvent,
    CheckedQuery,
    Filters,
    IngestReport,
    Passage,
    Query,
    Retrieved,
)
from rag.retrieval import Mode, retrieve, to_passages
from rag.runtime.embedding import Embedder
from rag.runtime.pairs import Reranker
from rag.settings import Settings
from rag.stores import open_store
from rag.stores.base import DocumentSummary, Store, StoreInfo
from rag.stores.view import View
from rag.text import has_words
from rag.time.dates import check_date, normalize_date
from rag.time.filter import (
    NOTHING_DATED,
    before_range,
    empty_range,
    is_empty_range,
    narrow,
    newest_first,
    without_time,
)
from rag.time.phrases import TimeFilter, find_time, parse_as_of, today_utc

if TYPE_CHECKING:
    from rag.articles.loading import LoadResult

log = logging.getLogger(__name__)

# Articles handed to the store per write while ingesting: each write is one segment (local)
# or one transaction (PostgreSQL), so memory stays bounded on a large ingest.
WRITE_BATCH_CHUNKS = 2000


class Engine:
    """Ingest, search and answer over one store (a local index directory or PostgreSQL)."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        scorer: Scorer | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings
        self.root = Path(settings.storage.index_dir)
        self._embedder = embedder
        self._reranker: Reranker | None = None
        self._reranker_checked = False
        self.scorer = scorer or load_scorer(settings.models.scorer_path)
        self._store = store
        self._store_lock = threading.Lock()

    @property
    def store(self) -> Store:
        if self._store is None:
            with self._store_lock:  # concurrent first requests open it once
                if self._store is None:
                    self._store = open_store(self.settings)
        return self._store

    # -- components -------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The model ``RAG_BACKEND`` asks for, built once (``rag.runtime``)."""
        if self._embedder is None:
            from rag import runtime

            with runtime.LOCK:  # concurrent first requests build it once
                if self._embedder is None:
                    self._embedder = runtime.load_embedder(self.settings)
        return self._embedder

    @property
    def reranker(self) -> Reranker | None:
        """The cross-encoder over the bundled model; None when switched off (``RAG_RERANK``),
        with an embedder that is not the bundled model, or without its weights file."""
        if not self._reranker_checked:
            from rag import runtime

            embedder = self.embedder
            with runtime.LOCK:
                if not self._reranker_checked:
                    self._reranker = runtime.load_reranker(self.settings, embedder)
                    self._reranker_checked = True
        return self._reranker

    @property
    def threshold(self) -> float:
        """The confidence below which answers abstain."""
        if self.settings.answering.abstain_threshold is not None:
            return self.settings.answering.abstain_threshold
        return self.scorer.threshold

    @property
    def chunk_params(self) -> ChunkingParams:
        ingest = self.settings.ingest
        return ChunkingParams(ingest.chunk_tokens, ingest.chunk_overlap_tokens)

    def _chunker(self) -> Chunker:
        tokenizer = getattr(self.embedder, "tokenizer", None)
        count = (lambda t: len(tokenizer.tokenize(t))) if tokenizer else (lambda t: len(t.split()))
        return Chunker(count, self.chunk_params)

    def _store_info(self) -> StoreInfo:
        return StoreInfo(
            self.embedder.name,
            self.embedder.dimension,
            json.loads(json.dumps(self.chunk_params.to_dict())),
        )

    # -- reads -----------------------------------------------------------------------------
    def has_index(self) -> bool:
        return self.store.info() is not None

    def snapshot(self) -> View:
        """A view of the latest committed state of the store."""
        self._existing_info()
        return View(self.store.reader())

    def _existing_info(self) -> StoreInfo:
        info = self.store.info()
        if info is None:
            raise IndexMissingError(
                f"no index at {self._where()}: build one with `rag ingest PATH...` "
                "(e.g. `rag ingest seeds/`)"
            )
        return info

    def _checked_snapshot(self) -> View:
        """A view, refusing a store built with another embedding model."""
        info = self._existing_info()
        view = View(self.store.reader())
        if info.model != self.embedder.name or info.dimension != self.embedder.dimension:
            raise IndexCorruptError(
                f"the index at {self._where()} was built with model {info.model!r} "
                f"(dimension {info.dimension}), but this service uses {self.embedder.name!r} "
                f"(dimension {self.embedder.dimension}); rebuild it with "
                "`rag ingest --rebuild PATH...`"
            )
        return view

    def _where(self) -> str:
        return "the database" if self.settings.storage.database_url else str(self.root)

    def check_question(self, question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise InputError("the question is empty")
        if not has_words(question):  # "?", "..." or "±" asks nothing
            raise InputError(f"the question {question.strip()!r} has no words")
        if len(question) > self.settings.answering.max_question_chars:
            raise PayloadTooLargeError(
                f"the question has {len(question)} characters; the limit is "
                f"{self.settings.answering.max_question_chars}"
            )
        return question.strip()

    def check(self, query: Query | CheckedQuery) -> CheckedQuery:
        """The one validation of a request (the API calls it before a request waits for a
        compute slot, the CLI before it asks): the question, ``top_k``, the retrieval mode,
        the filter dates and ``as_of``; each error names the field as the caller does
        (``query.names``). A checked query is returned as it is."""
        if isinstance(query, CheckedQuery):
            return query
        question = self.check_question(query.question)
        k = self.settings.answering.top_k if query.top_k is None else query.top_k
        if not 1 <= k <= self.settings.answering.max_top_k:
            raise InputError(f"top_k must be between 1 and {self.settings.answering.max_top_k}")
        if query.mode not in get_args(Mode):
            raise InputError(f"mode must be one of {', '.join(get_args(Mode))}")
        names, f = query.names, query.filters
        dates = check_date if names.explain_dates else normalize_date
        date_from, date_to = dates(f.date_from, names.date_from), dates(f.date_to, names.date_to)
        filters = replace(f, date_from=date_from, date_to=date_to)
        as_of = query.as_of
        if not isinstance(as_of, date):
            as_of = parse_as_of(as_of, names.as_of)
        return CheckedQuery(question, k, filters, query.history, as_of, query.mode)

    def as_of(self, value: str | None, where: str) -> date | None:
        """The day a person gave for ``as_of`` (ISO 8601; None stays None), or an
        ``InputError`` naming ``where`` and the wrong part."""
        return parse_as_of(value, where)

    def search(
        self,
        query: Query | CheckedQuery | str,
        top_k: int | None = None,
        filters: Filters = NO_FILTERS,
        mode: Mode = "hybrid",
    ) -> list[Passage]:
        """Passages for the query: the retrieved pool reranked by its best sentences."""
        if isinstance(query, str):
            query = Query(query, top_k, filters, mode=mode)
        q = self.check(query)
        data = self._checked_snapshot()
        vector = self.embedder.embed([q.question])[0]
        reading = self._read(data, q.question, vector, q.top_k, q.filters, cast(Mode, q.mode))
        stories = stories_of(data, reading.ranked.rows)  # rag.answering.duplicates
        return collapse_passages(data, to_passages(data, reading.ranked), stories)

    def _read(
        self, data: View, question: str, vector: Any, k: int, filters: Filters, mode: Mode
    ) -> Reading:
        for _ in range(2):
            pool = retrieve(data, question, vector, max(k, POOL_DEPTH), filters, mode)
            reading = read(
                analyse(question, data), data, pool, vector, self.scorer, k, self.reranker
            )
            if not data.lost:
                break
            # the store changed under the question (a rebuild swapped in, an article went):
            # read it once more from the new state rather than answer from what is left
            data.renew(self.store.reader())
        return reading

    def ask(
        self,
        query: Query | CheckedQuery | str,
        top_k: int | None = None,
        filters: Filters = NO_FILTERS,
        history: Sequence[Turn] = (),
        mode: Mode = "hybrid",
        as_of: date | None = None,
    ) -> Answer:
        """Answer with quoted sentences and citations, or abstain with the reason. Time
        phrases in the question are read relative to ``as_of`` (default: today, UTC). A plain
        question string and the keywords are the library's shorthand for a :class:`Query`."""
        answer: Answer | None = None
        for event in self.ask_steps(query, top_k, filters, history, mode, as_of):
            if isinstance(event, Answered):
                answer = event.answer
        assert answer is not None
        return answer

    def ask_steps(
        self,
        query: Query | CheckedQuery | str,
        top_k: int | None = None,
        filters: Filters = NO_FILTERS,
        history: Sequence[Turn] = (),
        mode: Mode = "hybrid",
        as_of: date | None = None,
    ) -> Iterator[AskEvent]:
        """The answer in stages: :class:`Retrieved` passages, then the :class:`Answered` answer.

        A time phrase narrows the date filters (``rag.time.phrases``); when no article is dated
        in its range the answer comes from the caller's filters, and ``time_filter`` says so."""
        started = time.perf_counter()
        if isinstance(query, str):
            pairs = tuple((t.question, t.answer) for t in history)
            query = Query(query, top_k, filters, pairs, as_of, mode)
        q = self.check(query)
        question, k, filters, mode = q.question, q.top_k, q.filters, cast(Mode, q.mode)
        turns = [Turn(asked, said) for asked, said in q.history]
        reading_of = resolve_turn(question, turns)
        resolved = reading_of.question
        when = find_time(resolved, q.as_of or today_utc())
        t_load = time.perf_counter()
        _models = (self.embedder, self.reranker)  # loaded on the first question: timed apart
        data = self._checked_snapshot()
        t0 = time.perf_counter()
        reading, when, embed_ms, earlier = self._read_in_time(
            data, resolved, when, k, filters, mode
        )
        # the story groups of all the answer can show, fetched once (rag.answering.duplicates)
        stories = stories_of(
            data, reading.ranked.rows, reading.rows, earlier.rows if earlier else ()
        )
        passages = tuple(collapse_passages(data, to_passages(data, reading.ranked), stories))
        t2 = time.perf_counter()
        yield Retrieved(passages)
        if is_empty_range(when):  # rag.time.filter: abstain, the closest earlier item beside
            result = nothing_in_range(self._compose(earlier, data) if earlier else None)
        else:
            result = self._compose(reading, data)
        # rag.answering.span: the spans of the sentences the reranker read come with the reading
        result = with_spans(result, reading.question.text, self.reranker, reading.pairs)
        t3 = time.perf_counter()
        yield Answered(
            Answer(
                question=question,
                answer=result.answer,
                abstained=result.abstained,
                reason=result.reason,
                confidence=result.confidence,
                citations=with_copies(stories, result.citations),
                closest=with_copies(stories, result.closest),
                passages=passages,
                timings_ms={
                    "load_models": (t0 - t_load) * 1e3,
                    "embed": embed_ms,
                    "retrieve_and_read": (t2 - t0) * 1e3 - embed_ms,
                    "compose": (t3 - t2) * 1e3,
                    "total": (t3 - started) * 1e3,
                },
                resolved_question=resolved if turns else None,
                refers_to=reading_of.refers_to,
                time_filter=when.to_dict() if when is not None else None,
            ),
        )

    def _compose(self, reading: Reading, data: View) -> Composition:
        return compose(reading, data, self.threshold, self.settings.answering.max_answer_sentences)

    def _read_in_time(
        self,
        data: View,
        resolved: str,
        when: TimeFilter | None,
        k: int,
        filters: Filters,
        mode: Mode,
    ) -> tuple[Reading, TimeFilter | None, float, Reading | None]:
        """The reading of the question, without the time phrase its date filter stands for,
        within the phrase's dates. When no article is in them: in a dated archive the empty
        reading, the time filter marked so (``rag.time.filter.empty_range``) and the reading
        from before the range, newest first; in an undated one the reading from the caller's
        filters alone (the returned time filter then says so). Also the milliseconds spent
        embedding."""
        t0 = time.perf_counter()
        asked = without_time(resolved, when)
        vector = self.embedder.embed([asked])[0]
        embed_ms = (time.perf_counter() - t0) * 1e3
        reading = self._read(data, asked, vector, k, narrow(filters, when), mode)
        if when is not None and when.applied and when.has_range and not reading.rows:
            unapplied = when.unapplied(NOTHING_DATED)
            unfiltered, every = without_time(resolved, unapplied), vector
            if unfiltered != asked:
                every = self.embedder.embed([unfiltered])[0]
            everything = self._read(data, unfiltered, every, k, filters, mode)
            if not dated(everything, data):
                return prefer_latest(everything, data, unapplied), unapplied, embed_ms, None
            when, earlier = empty_range(when), before_range(filters, when)
            if earlier is None:
                return reading, when, embed_ms, None
            before = self._read(data, asked, vector, k, earlier, mode)
            return reading, when, embed_ms, prefer_latest(before, data, newest_first(when))
        return prefer_latest(reading, data, when), when, embed_ms, None

    def documents(
        self,
        limit: int | None = None,
        after: str | None = None,
    ) -> list[dict[str, Any]]:
        """Documents ordered by id (all of them when ``limit`` is None), after ``after``."""
        self.snapshot()  # a missing index is an error, not an empty list
        out: list[DocumentSummary] = []
        while limit is None or len(out) < limit:
            want = 1000 if limit is None else min(1000, limit - len(out))
            page = self.store.list_documents(want, after)
            out.extend(page)
            if len(page) < want:
                break
            after = page[-1].doc_id
        return [
            {
                "doc_id": d.doc_id,
                "title": d.title,
                "url": d.url,
                "date": d.date,
                "source": d.source,
                "author": d.author,
                "chars": d.chars,
                "chunks": d.chunks,
                "content_hash": d.content_hash,
                "ingested_at": d.ingested_at,
            }
            for d in out
        ]

    def document(self, doc_id: str) -> dict[str, Any]:
        self.snapshot()
        a = self.store.document(doc_id)
        if a is None:
            raise NotFoundError(f"no document with id {doc_id[:80]!r}")
        return {
            "doc_id": a.doc_id,
            "title": a.title,
            "text": a.text,
            "url": a.url,
            "date": a.date,
            "source": a.source,
            "author": a.author,
            "content_hash": a.content_hash,
            "ingested_at": a.ingested_at,
            "entities": a.entities,
            "group_id": a.group_id,
        }

    def stats(self) -> dict[str, Any]:
        self.snapshot()
        info = self.store.info()
        assert info is not None
        return {
            "index": self._where(),
            "index_dir": str(self.root),
            "backend": "postgres" if self.settings.storage.database_url else "local",
            "model": info.model,
            "dimension": info.dimension,
            "counts": self.store.counts(),
            "chunking": info.chunking,
        }

    # -- sources ---------------------------------------------------------------------------
    def load_sources(
        self, sources: Sequence[str], *, progress: bool = False, remote_only: bool = False
    ) -> LoadResult:
        """Articles from files, folders, web pages and feeds (``rag.articles.remote``), each
        one that cannot be read a warning. ``remote_only`` (the API): every source is fetched
        as a URL, nothing is read from this machine's disk, and a URL that cannot be loaded
        raises its error (a feed's failing items stay warnings)."""
        from rag.articles import remote

        if remote_only:
            return remote.load_urls(sources, self.settings, strict=True)
        return remote.load_sources(sources, self.settings, progress)

    def load_upload(self, name: str, data: bytes) -> LoadResult:
        """The articles of one uploaded file (``name``: its file name, the document id of a
        page or text) within ``RAG_MAX_*``'s limits; a file that cannot be read is a warning."""
        from rag.articles.loading import load_upload

        return load_upload(name, data, self.settings.limits)

    def load_records(self, records: Sequence[Any]) -> list[Article]:
        """Articles from JSON records ``{id, title, text, ...}`` within the article limits; the
        first bad record raises an ``InputError`` naming it ("article 3: ...")."""
        from rag.articles.loading import load_records

        return load_records(records, self.settings.limits)

    def watch(self, feeds: Sequence[str], every: float, polls: int | None = None) -> None:
        """Poll ``feeds`` every ``every`` seconds (``polls`` times; forever when None),
        ingesting new and changed items (``rag.articles.watch``)."""
        from rag.articles.watch import Watcher

        Watcher(feeds, self.settings, self.ingest).run(every, polls=polls)

    def watch_in_background(self) -> threading.Event | None:
        """Poll ``RAG_FEEDS`` in a daemon thread (``rag serve``); set the returned event to
        stop it; None when there are no feeds or another worker polls them."""
        from rag.articles.watch import start_background

        return start_background(self.settings, self.ingest)

    # -- writes ----------------------------------------------------------------------------
    def ingest(
        self, articles: Sequence[Article], *, rebuild: bool = False, progress: bool = False
    ) -> IngestReport:
        """Add new articles, replace changed ones (by content hash), skip unchanged ones.

        ``rebuild``: build a new index of exactly ``articles`` aside and swap it in when done
        (``Store.rebuilding``); the old index answers until then and survives a failure."""
        if not rebuild:
            return self._ingest_into(self.store, articles, progress)
        if not self.settings.storage.database_url and self._store is None:
            from rag.stores.local import remove_old_layout

            remove_old_layout(self.root)  # an index of the old layout cannot be opened
        with self.store.rebuilding() as fresh:
            report = self._ingest_into(fresh, articles, progress)
        return replace(report, chunks=self.store.counts()["chunks"])

    def _ingest_into(
        self, store: Store, articles: Sequence[Article], progress: bool
    ) -> IngestReport:
        info = self._store_info()
        latest = {a.doc_id: a for a in articles}  # the last copy of a repeated id wins
        known = store.content_hashes(list(latest))
        todo = [a for a in latest.values() if known.get(a.doc_id) != a.content_hash]
        self._check_compatible(info, chunking=bool(todo), store=store)
        unchanged = tuple(d for d, a in latest.items() if known.get(d) == a.content_hash)
        bar = progress_bar(todo, progress)
        prepared = prepare(todo, self.embedder, self._chunker(), bar, self.settings.ingest.entities)
        try:
            if not todo and store.info() is None:
                store.write(info, [])  # an empty index, so that reads find one
            while batch := take_chunks(prepared, WRITE_BATCH_CHUNKS):
                store.write(info, assign_groups(store, batch))  # rag.answering.duplicates
        finally:
            if bar is not None:  # before an error's message, not after it
                bar.close()  # type: ignore[attr-defined]
        return IngestReport(
            added=tuple(a.doc_id for a in todo if a.doc_id not in known),
            replaced=tuple(a.doc_id for a in todo if a.doc_id in known),
            unchanged=unchanged,
            chunks=store.counts()["chunks"],
        )

    def _check_compatible(
        self, info: StoreInfo, chunking: bool = True, store: Store | None = None
    ) -> None:
        """Refuse to add articles embedded (or, when ``chunking``, chunked) otherwise than the
        stored ones."""
        stored = (store or self.store).info()
        if stored is None:
            return
        if stored.model != info.model or stored.dimension != info.dimension:
            raise IndexCorruptError(
                f"the index at {self._where()} was built with model {stored.model!r} "
                f"(dimension {stored.dimension}), but this service uses {info.model!r}; "
                "rebuild it with `rag ingest --rebuild PATH...`"
            )
        differ = [
            f"{key} {stored.chunking.get(key)!r} there, {value!r} here"
            for key, value in info.chunking.items()
            if stored.chunking.get(key) != value
        ]
        if differ and chunking:
            raise IndexMismatchError(
                f"the index at {self._where()} was chunked otherwise ({'; '.join(differ)}); "
                "rebuild it with `rag ingest --rebuild PATH...`, or set RAG_CHUNK_TOKENS and "
                "RAG_CHUNK_OVERLAP_TOKENS to the index's values"
            )

    def delete(self, doc_id: str) -> None:
        info = self.store.info()
        if info is None or not self.store.write(info, [], [doc_id]).deleted:
            raise NotFoundError(f"no document with id {doc_id[:80]!r}")

    def compact(self) -> None:
        """Merge the store's segments and drop deleted rows (``rag compact``)."""
        self.snapshot()
        self.store.compact()
