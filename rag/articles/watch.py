"""Polling feeds: new and changed items only, one log line per poll.

A ``Watcher`` keeps, per feed, the ``ETag``/``Last-Modified`` of its last response (sent back
as a conditional GET, so an unchanged feed costs a 304) and the fingerprint of every item it
has ingested (by GUID, else link; see ``FeedItem.fingerprint``). A poll fetches the linked
pages of new or changed items only and hands their articles to ``ingest`` (``Engine.ingest``),
whose content hash then decides added / replaced / unchanged. A failing feed or item is
logged and skipped; the other feeds, items and later polls go on. The state lives in memory:
after a restart the first poll reads every item again and the index keeps unchanged ones.

``rag watch FEED... --every 10m`` and the server's background polling (``RAG_FEEDS``,
``RAG_FEED_INTERVAL``) both run this.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rag.errors import InputError, RagError
from rag.models import Article
from rag.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class _FeedState:
    etag: str | None = None
    last_modified: str | None = None
    seen: dict[str, str] = field(default_factory=dict)  # item key -> fingerprint


@dataclass(frozen=True)
class PollResult:
    """What one poll of one feed did."""

    feed: str
    status: str  # "ok", "not modified" or "failed"
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0
    ingested: tuple[str, ...] = ()
    index: str = ""  # what the index did with them ("1 added, 0 replaced, 2 unchanged")


class Watcher:
    """Polls ``feeds`` and passes new or changed items' articles to ``ingest``."""

    def __init__(
        self, feeds: Sequence[str], settings: Settings, ingest: Callable[[list[Article]], Any]
    ) -> None:
        self.feeds = list(feeds)
        self.settings = settings
        self.ingest = ingest
        self.state = {feed: _FeedState() for feed in self.feeds}

    def poll(self) -> list[PollResult]:
        """One poll of every feed; one log line each."""
        return [self._poll_feed(feed) for feed in self.feeds]

    def run(
        self, every: float, *, polls: int | None = None, stop: threading.Event | None = None
    ) -> None:
        """Poll every ``every`` seconds, ``polls`` times (forever when None) or until ``stop``."""
        stop = stop or threading.Event()
        done = 0
        while not stop.is_set():
            self.poll()
            done += 1
            if polls is not None and done >= polls:
                return
            stop.wait(every)

    def _poll_feed(self, feed: str) -> PollResult:
        started = time.monotonic()
        try:
            result = self._poll(feed)
        except RagError as exc:
            log.warning("poll %s: failed: %s", feed, exc.message)
            return PollResult(feed, "failed")
        except Exception:  # noqa: BLE001 - a background poller must outlive one bad poll
            log.exception("poll %s: failed unexpectedly", feed)
            return PollResult(feed, "failed")
        took = time.monotonic() - started
        if result.status == "not modified":
            log.info("poll %s: feed not modified since the last poll (HTTP 304); %.1fs", feed, took)
        else:
            log.info("poll %s: %s; %.1fs", feed, describe_poll(result), took)
        return result

    def _poll(self, feed: str) -> PollResult:
        from rag.articles.feeds import looks_like_feed, parse_feed
        from rag.articles.fetching import fetch
        from rag.articles.remote import item_article

        state = self.state[feed]
        fetching = self.settings.fetching
        got = fetch(feed, fetching, etag=state.etag, last_modified=state.last_modified)
        if got.not_modified:
            return PollResult(feed, "not modified")
        if not looks_like_feed(got.content_type, got.content):
            raise InputError(f"{feed}: not an RSS/Atom feed")
        items = parse_feed(
            got.content,
            got.url,
            max_items=self.settings.fetching.feed_max_items,
            content_type=got.content_type or "application/xml",
        )
        counts = {"new": 0, "changed": 0, "unchanged": 0, "skipped": 0}
        articles, fresh = [], {}
        for item in items:
            old = state.seen.get(item.key)
            if old == item.fingerprint:
                counts["unchanged"] += 1
                continue
            try:
                articles.append(item_article(item, self.settings))
            except InputError as exc:
                counts["skipped"] += 1
                log.warning("poll %s: skipped item %s: %s", feed, item.key, exc.message)
                continue
            counts["new" if old is None else "changed"] += 1
            fresh[item.key] = item.fingerprint
        report = self.ingest(articles) if articles else None
        state.seen.update(fresh)
        state.etag, state.last_modified = got.etag, got.last_modified
        return PollResult(
            feed,
            "ok",
            ingested=tuple(a.doc_id for a in articles),
            index=_describe(report, len(articles)),
            **counts,
        )


def describe_poll(result: PollResult) -> str:
    """A poll in words, counts that add up: the feed's items are those as at the last poll
    (not read again), those read (new to this watch, which starts with an empty memory, or
    changed since) and those skipped; the index then says what the read ones were to it, so
    an item new to a restarted watch but already stored is "1 new" and "1 unchanged"."""
    items = result.new + result.changed + result.unchanged + result.skipped
    read = result.new + result.changed
    line = (
        f"{items} item(s) in the feed: {result.unchanged} as at the last poll, {read} read "
        f"({result.new} new to this watch, {result.changed} changed), {result.skipped} skipped"
    )
    return f"{line} -> {result.index}" if result.index else line


def _describe(report: Any, sent: int) -> str:
    """``Engine.ingest``'s report in words; other ingest callables: the count sent."""
    if report is None:
        return ""
    if all(hasattr(report, k) for k in ("added", "replaced", "unchanged")):
        return (
            f"index: {len(report.added)} added, {len(report.replaced)} replaced, "
            f"{len(report.unchanged)} unchanged (already stored)"
        )
    return f"{sent} sent to the index"


def start_background(
    settings: Settings,
    ingest: Callable[[list[Article]], Any],
) -> threading.Event | None:
    """Poll ``RAG_FEEDS`` every ``RAG_FEED_INTERVAL`` in a daemon thread; set the returned
    event to stop it. With several server workers on one index, only the one that holds
    ``feeds.lock`` beside the index folder polls (the lock goes with its process)."""
    fetching, index_dir = settings.fetching, settings.storage.index_dir
    if not fetching.feeds:
        return None
    import fcntl

    lock_path = index_dir.parent / f".{index_dir.name}-feeds.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "a")  # noqa: SIM115 - held for the life of the thread
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        log.info("another worker polls the feeds")
        return None
    stop = threading.Event()

    def loop() -> None:
        try:
            Watcher(fetching.feeds, settings, ingest).run(fetching.feed_interval, stop=stop)
        finally:
            handle.close()

    threading.Thread(target=loop, name="feed-poller", daemon=True).start()
    log.info("polling %d feed(s) every %.0fs", len(fetching.feeds), fetching.feed_interval)
    return stop
