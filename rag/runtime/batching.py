"""Micro-batching: concurrent callers of one model share its forward passes.

A :class:`MicroBatcher` owns one worker thread. Callers submit a job (a list of inputs) and
block on its result; the worker takes every job queued at that moment, runs the model once on
all their inputs, and hands each caller its slice. While the model is busy, new jobs queue, so
under load batches grow by themselves; an idle model runs a lone job at once. When the last
batch held more than one job (the model is under load), the worker also waits up to
``window_s`` for stragglers before running, so requests that arrive a moment apart still meet.
Identical inputs within a batch are computed once (``key`` says what "identical" means).

All batchers of a process share one lock around the model call (``MODEL_LOCK``): two
onnxruntime sessions running at once on 2 cores would only slow each other down.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

MODEL_LOCK = threading.Lock()  # one model call at a time in this process


@dataclass
class _Job(Generic[T, R]):
    items: Sequence[T]
    future: Future[list[R]] = field(default_factory=Future)


class MicroBatcher(Generic[T, R]):
    """Runs ``fn(unique_items) -> results`` for the jobs of many callers at once."""

    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R]],
        *,
        window_s: float = 0.002,
        max_items: int = 256,
        key: Callable[[T], Hashable] | None = None,
        name: str = "model",
    ) -> None:
        self._fn = fn
        self._window = window_s
        self._max_items = max_items
        self._key = key or (lambda item: item)
        self._queue: queue.SimpleQueue[_Job[T, R]] = queue.SimpleQueue()
        self._busy = False  # whether the last batch held more than one job
        self.batches = 0  # counters, for tests and benchmarks
        self.jobs = 0
        self._thread = threading.Thread(target=self._loop, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    def __call__(self, items: Sequence[T]) -> list[R]:
        """The results of ``items``, computed in a batch with whatever else is waiting."""
        if not items:
            return []
        job: _Job[T, R] = _Job(items)
        self._queue.put(job)
        return job.future.result()

    def _loop(self) -> None:
        while True:
            jobs = [self._queue.get()]
            if self._busy and self._window > 0:
                time.sleep(self._window)
            size = len(jobs[0].items)
            while size < self._max_items:
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
                size += len(jobs[-1].items)
            self._busy = len(jobs) > 1
            self._run(jobs)

    def _run(self, jobs: list[_Job[T, R]]) -> None:
        slots: dict[Hashable, int] = {}
        unique: list[T] = []
        for job in jobs:
            for item in job.items:
                if slots.setdefault(self._key(item), len(unique)) == len(unique):
                    unique.append(item)
        try:
            with MODEL_LOCK:
                results = list(self._fn(unique))
        except BaseException as exc:  # every waiting caller sees the failure
            for job in jobs:
                job.future.set_exception(exc)
            return
        self.batches += 1
        self.jobs += len(jobs)
        for job in jobs:
            job.future.set_result([results[slots[self._key(item)]] for item in job.items])


def run_locked(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn`` under the model lock (large jobs, such as ingest, skip the batcher)."""
    with MODEL_LOCK:
        return fn(*args)
