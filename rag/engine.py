"""The engine: one object that owns the embedder and the loaded index, used by CLI and API.

Reads take an immutable snapshot of the index, so a query sees the index before or after an
update, never half of it. Writes are serialised by a lock (and a file lock across processes),
build a new generation on disk, and swap it in. Other processes notice the new manifest.
"""

from __future__ import annotations

import fcntl
import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from rag.answering import POOL_DEPTH, Reading, Reranker, compose, read
from rag.chunking import Chunker, ChunkingParams
from rag.conversation import Turn, resolve
from rag.embedding import Embedder, SentenceTransformerEmbedder
from rag.errors import (
    IndexMismatchError,
    IndexMissingError,
    InputError,
    NotFoundError,
    PayloadTooLargeError,
)
from rag.features import analyse
from rag.ingest import apply_changes, empty_index
from rag.models import NO_FILTERS, Answer, Article, Filters, IngestReport, Passage
from rag.retrieval import Mode, retrieve, to_passages
from rag.scoring import Scorer, load_scorer
from rag.settings import Settings
from rag.store import MANIFEST, IndexData, check_compatible, load_index, read_manifest, save_index

log = logging.getLogger(__name__)


class Engine:
    """Ingest, search and answer over one index directory."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None,
                 scorer: Scorer | None = None) -> None:
        self.settings = settings
        self.root = Path(settings.index_dir)
        self._embedder = embedder
        self._reranker: Reranker | None = None
        self._reranker_checked = False
        self.scorer = scorer or load_scorer()
        self._data: IndexData | None = None
        self._manifest_key: tuple[int, int] = (-1, -1)  # (inode, mtime) of the loaded one
        self._write_lock = threading.RLock()
        # One BLAS thread: OpenBLAS workers spin after each dense search and starve the
        # model's own threads; measured p50/p95 of ask at 100k chunks 50/148 ms -> 44/51 ms.
        threadpool_limits(1, user_api="blas")
        self._read_lock = threading.Lock()

    # -- components -------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = SentenceTransformerEmbedder(self.settings.model_path)
        return self._embedder

    @property
    def reranker(self) -> Reranker | None:
        """The cross-encoder over the bundled model; None when switched off (``RAG_RERANK``),
        with an embedder that is not the bundled model, or without its weights file."""
        if not self._reranker_checked:
            self._reranker_checked = True
            embedder = self.embedder
            # duck-typed: the bundled model's embedder shares its model thread via ``run``
            if self.settings.rerank and callable(getattr(embedder, "run", None)):
                from rag.reranking import RERANKER_FILE, CrossEncoderReranker

                if RERANKER_FILE.exists():
                    self._reranker = CrossEncoderReranker(embedder)
                else:
                    log.warning("no reranker weights at %s: answering without it", RERANKER_FILE)
        return self._reranker

    def reset_reranker(self) -> None:
        """Load the reranker again on next use (after its weights were retrained)."""
        self._reranker, self._reranker_checked = None, False

    @property
    def threshold(self) -> float:
        """The confidence below which answers abstain."""
        if self.settings.abstain_threshold is not None:
            return self.settings.abstain_threshold
        return self.scorer.threshold

    @property
    def chunk_params(self) -> ChunkingParams:
        return ChunkingParams(self.settings.chunk_tokens, self.settings.chunk_overlap_tokens)

    def _chunker(self) -> Chunker:
        tokenizer = getattr(self.embedder, "tokenizer", None)
        count = (lambda t: len(tokenizer.tokenize(t))) if tokenizer else (lambda t: len(t.split()))
        return Chunker(count, self.chunk_params)

    def _base_manifest(self) -> dict[str, Any]:
        return {"model": self.embedder.name, "dimension": self.embedder.dimension,
                "chunking": self.chunk_params.to_dict()}

    # -- snapshots ------------------------------------------------------------------------
    def snapshot(self) -> IndexData:
        """The current index; reloaded when another process or worker saved a newer one."""
        manifest_path = self.root / MANIFEST
        try:
            stat = manifest_path.stat()
            key = (stat.st_ino, stat.st_mtime_ns)  # each save replaces the file: a new inode
        except FileNotFoundError:
            raise IndexMissingError(
                f"no index at {self.root}: build one with `rag ingest PATH...` "
                "(e.g. `rag ingest seeds/`)") from None
        with self._read_lock:
            if self._data is None or key != self._manifest_key:
                self._data = load_index(self.root, self.embedder.name, self.embedder.dimension)
                self._manifest_key = key
                log.info("loaded index generation %s (%s chunks)", self._data.generation,
                         self._data.vectors.ntotal)
            return self._data

    def has_index(self) -> bool:
        return (self.root / MANIFEST).exists()

    # -- reads -----------------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise InputError("the question is empty")
        if len(question) > self.settings.max_question_chars:
            raise PayloadTooLargeError(
                f"the question has {len(question)} characters; the limit is "
                f"{self.settings.max_question_chars}")
        return question.strip()

    def _check_top_k(self, top_k: int | None) -> int:
        k = self.settings.top_k if top_k is None else top_k
        if not 1 <= k <= self.settings.max_top_k:
            raise InputError(f"top_k must be between 1 and {self.settings.max_top_k}")
        return k

    def search(self, query: str, top_k: int | None = None, filters: Filters = NO_FILTERS,
               mode: Mode = "hybrid") -> list[Passage]:
        """Passages for the query: the retrieved pool reranked by its best sentences."""
        query = self.check_question(query)
        k = self._check_top_k(top_k)
        data = self.snapshot()
        vector = self.embedder.embed([query])[0]
        reading = self._read(data, query, vector, k, filters, mode)
        return to_passages(data, reading.ranked)

    def _read(self, data: IndexData, question: str, vector: Any, k: int, filters: Filters,
              mode: Mode) -> Reading:
        pool = retrieve(data, question, vector, max(k, POOL_DEPTH), filters, mode)
        return read(analyse(question, data), data, pool, vector, self.scorer, k, self.reranker)

    def ask(self, question: str, top_k: int | None = None, filters: Filters = NO_FILTERS,
            history: Sequence[Turn] = (), mode: Mode = "hybrid") -> Answer:
        """Answer with quoted sentences and citations, or abstain with the reason."""
        answer: Answer | None = None
        for event, payload in self.ask_steps(question, top_k, filters, history, mode):
            if event == "done":
                answer = payload
        assert answer is not None
        return answer

    def ask_steps(self, question: str, top_k: int | None = None, filters: Filters = NO_FILTERS,
                  history: Sequence[Turn] = (), mode: Mode = "hybrid",
                  ) -> Iterator[tuple[str, Any]]:
        """The answer in stages: ``("retrieval", passages)``, then ``("done", Answer)``."""
        started = time.perf_counter()
        question = self.check_question(question)
        k = self._check_top_k(top_k)
        resolved = resolve(question, history)
        data = self.snapshot()
        t_load = time.perf_counter()
        _models = (self.embedder, self.reranker)  # loaded on the first question: timed apart
        t0 = time.perf_counter()
        vector = self.embedder.embed([resolved])[0]
        t1 = time.perf_counter()
        reading = self._read(data, resolved, vector, k, filters, mode)
        passages = tuple(to_passages(data, reading.ranked))
        t2 = time.perf_counter()
        yield "retrieval", passages
        result = compose(reading, data, self.threshold, self.settings.max_answer_sentences)
        t3 = time.perf_counter()
        yield "done", Answer(
            question=question, answer=result.answer, abstained=result.abstained,
            reason=result.reason, confidence=result.confidence, citations=result.citations,
            passages=passages,
            timings_ms={"load_models": (t0 - t_load) * 1e3,
                        "embed": (t1 - t0) * 1e3, "retrieve_and_read": (t2 - t1) * 1e3,
                        "compose": (t3 - t2) * 1e3, "total": (t3 - started) * 1e3},
            resolved_question=resolved if history else None,
        )

    def documents(self) -> list[dict[str, Any]]:
        data = self.snapshot()
        counts: dict[int, int] = {}
        for d in data.chunk_doc.tolist():
            counts[d] = counts.get(d, 0) + 1
        return [{"doc_id": a.doc_id, "title": a.title, "url": a.url, "date": a.date,
                 "source": a.source, "chars": len(a.text), "chunks": counts.get(i, 0),
                 "content_hash": a.content_hash, "ingested_at": a.ingested_at}
                for i, a in enumerate(data.articles)]

    def document(self, doc_id: str) -> dict[str, Any]:
        for a in self.snapshot().articles:
            if a.doc_id == doc_id:
                return {"doc_id": a.doc_id, "title": a.title, "text": a.text, "url": a.url,
                        "date": a.date, "source": a.source, "content_hash": a.content_hash,
                        "ingested_at": a.ingested_at}
        raise NotFoundError(f"no document with id {doc_id!r}")

    def stats(self) -> dict[str, Any]:
        data = self.snapshot()
        m = data.manifest
        return {"index_dir": str(self.root), "generation": m.get("generation"),
                "model": m.get("model"), "dimension": m.get("dimension"),
                "counts": m.get("counts"), "chunking": m.get("chunking"),
                "built_at": m.get("built_at"), "format_version": m.get("format_version")}

    # -- writes ----------------------------------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with self._write_lock, open(self.root / ".lock", "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _current_or_empty(self, rebuild: bool) -> IndexData:
        if rebuild or not self.has_index():
            return empty_index(self._base_manifest(), self.embedder.dimension)
        check_compatible(read_manifest(self.root), self.embedder.name, self.embedder.dimension)
        return self.snapshot()

    def ingest(self, articles: Sequence[Article], *, rebuild: bool = False,
               progress: bool = False) -> IngestReport:
        """Add new articles, replace changed ones (by content hash), skip unchanged ones."""
        with self._writing():
            old = self._current_or_empty(rebuild)
            known = {a.doc_id: a.content_hash for a in old.articles}
            latest = {a.doc_id: a for a in articles}  # the last copy of a repeated id wins
            added = [a for a in latest.values() if a.doc_id not in known]
            changed = [a for a in latest.values()
                       if a.doc_id in known and known[a.doc_id] != a.content_hash]
            unchanged = [i for i in latest if i in known and known[i] == latest[i].content_hash]
            if (added or changed) and not rebuild and self.has_index():
                self._check_chunking(old)
            if added or changed or rebuild or not self.has_index():
                new = apply_changes(old, added + changed, set(), self.embedder, self._chunker(),
                                    progress=progress)
                self._publish(new)
            return IngestReport(added=tuple(a.doc_id for a in added),
                                replaced=tuple(a.doc_id for a in changed),
                                unchanged=tuple(unchanged),
                                chunks=int(self.snapshot().vectors.ntotal))

    def _check_chunking(self, data: IndexData) -> None:
        """Refuse to add articles chunked otherwise than the index's others were."""
        stored = data.manifest.get("chunking")
        stored = stored if isinstance(stored, dict) else {}
        current = json.loads(json.dumps(self.chunk_params.to_dict()))
        differ = [f"{key} {stored.get(key)!r} there, {value!r} here"
                  for key, value in current.items() if stored.get(key) != value]
        if differ:
            raise IndexMismatchError(
                f"the index at {self.root} was chunked otherwise ({'; '.join(differ)}); "
                "rebuild it with `rag ingest --rebuild PATH...`, or set RAG_CHUNK_TOKENS and "
                "RAG_CHUNK_OVERLAP_TOKENS to the index's values")

    def delete(self, doc_id: str) -> None:
        with self._writing():
            old = self.snapshot()
            if doc_id not in {a.doc_id for a in old.articles}:
                raise NotFoundError(f"no document with id {doc_id!r}")
            self._publish(apply_changes(old, [], {doc_id}, self.embedder, self._chunker()))

    def _publish(self, data: IndexData) -> None:
        manifest = save_index(self.root, data)
        with self._read_lock:
            self._data = IndexData(**{**data.__dict__, "manifest": manifest})
            stat = (self.root / MANIFEST).stat()
            self._manifest_key = (stat.st_ino, stat.st_mtime_ns)
