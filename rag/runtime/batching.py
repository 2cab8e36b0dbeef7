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

The worker never dies of a job: a ``key`` that raises fails only the job whose item it was
given, a failing model call fails the jobs of that batch, and anything else is logged. A caller
waits at most ``timeout_s`` (then :class:`~rag.errors.ModelTimeoutError`, and its job is dropped
if the worker has not started it), so a stuck model is an error, never a hang.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from rag.errors import ModelTimeoutError

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

MODEL_LOCK = threading.Lock()  # one model call at a time in this process
# far beyond any one batch's time, even behind a queue of them: only a stuck model trips it
RESULT_TIMEOUT_S = 120.0


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
        timeout_s: float = RESULT_TIMEOUT_S,
    ) -> None:
        self._fn = fn
        self._name = name
        self._timeout = timeout_s
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
        try:
            return job.future.result(timeout=self._timeout)
        except FutureTimeout:
            job.future.cancel()  # not computed if the worker has not taken it yet
            raise ModelTimeoutError(
                f"the {self._name} did not answer within {self._timeout:g} s"
            ) from None

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
            try:
                self._run(jobs)
            except Exception:  # a bug here must not leave later callers without a worker
                log.exception("micro-batch of the %s failed", self._name)
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(RuntimeError(f"the {self._name} batch failed"))

    def _run(self, jobs: list[_Job[T, R]]) -> None:
        slots: dict[Hashable, int] = {}
        unique: list[T] = []
        taken: list[tuple[_Job[T, R], list[Hashable]]] = []
        for job in jobs:
            if not job.future.set_running_or_notify_cancel():
                continue  # its caller gave up waiting
            try:  # a key that raises (or is unhashable) fails only this caller's job
                keys = [self._key(item) for item in job.items]
                for key, item in zip(keys, job.items, strict=True):
                    if slots.setdefault(key, len(unique)) == len(unique):
                        unique.append(item)
            except Exception as exc:
                job.future.set_exception(exc)
                continue
            taken.append((job, keys))
        if not taken:
            return
        try:
            with MODEL_LOCK:
                results = list(self._fn(unique))
            answers = [[results[slots[key]] for key in keys] for _, keys in taken]
        except BaseException as exc:  # every waiting caller sees the failure
            for job, _ in taken:
                job.future.set_exception(exc)
            return
        self.batches += 1
        self.jobs += len(taken)
        for (job, _), answer in zip(taken, answers, strict=True):
            job.future.set_result(answer)


def run_locked(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn`` under the model lock (large jobs, such as ingest, skip the batcher)."""
    with MODEL_LOCK:
        return fn(*args)
