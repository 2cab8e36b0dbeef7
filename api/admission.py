"""Bounded, cancellable admission to the models: a FIFO of compute slots with a short queue.

Every request that runs a model (``/ask``, ``/ask/stream``, ``/search``) takes one ``Slot``
before its work starts and gives it back when the work is done:

- at most ``slots`` computations run at once (more threads than cores only contend);
- at most ``max_waiting`` requests wait; one more gets ``OverloadedError`` (503 with
  ``Retry-After``) at once instead of joining a queue it would time out in;
- a waiting request whose client has gone away leaves the queue (checked every
  ``POLL_S``), and one that reaches the front after its client left never reaches the model;
- a request waits at most ``deadline_s`` for its slot, then gets a 503.

The model work itself runs in a worker thread and cannot be interrupted, so a slot is only
given back when that thread has finished. Waiters are served in arrival order; the queue is
per worker process (the rate limit, not this queue, is what is shared across workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import TypeVar

import anyio
from fastapi import Request

from rag.errors import OverloadedError

log = logging.getLogger(__name__)
T = TypeVar("T")

POLL_S = 0.1  # how often a waiting request checks whether its client is still there
RETRY_AFTER_S = 2.0  # what a 503 tells the client: the queue drains in about that long


class ClientGone(Exception):
    """The client disconnected before its request reached the model; nobody reads a reply."""


class ComputeGate:
    """The slots and the queue of one worker process (see the module docstring)."""

    def __init__(self, slots: int, max_waiting: int, deadline_s: float) -> None:
        self.slots = slots
        self.max_waiting = max_waiting
        self.deadline_s = deadline_s
        self.busy = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self, request: Request) -> Slot:
        """A slot for ``request``, or ``OverloadedError`` / ``ClientGone``."""
        if self.busy < self.slots and not self._waiters:
            self.busy += 1
        else:
            await self._wait(request)
        slot = Slot(self)
        if await request.is_disconnected():
            slot.release()
            raise ClientGone()
        return slot

    async def _wait(self, request: Request) -> None:
        if len(self._waiters) >= self.max_waiting:
            raise OverloadedError(
                f"the server is busy ({self.busy} questions running, "
                f"{len(self._waiters)} waiting); retry shortly",
                retry_after=RETRY_AFTER_S,
            )
        loop = asyncio.get_running_loop()
        ticket: asyncio.Future[None] = loop.create_future()
        self._waiters.append(ticket)
        deadline = loop.time() + self.deadline_s
        try:
            while not ticket.done():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise OverloadedError(
                        f"no compute slot within {self.deadline_s:g} s; retry shortly",
                        retry_after=RETRY_AFTER_S,
                    )
                await asyncio.wait({ticket}, timeout=min(POLL_S, remaining))
                if not ticket.done() and await request.is_disconnected():
                    raise ClientGone()
        except BaseException:
            self._leave(ticket)
            raise

    def _leave(self, ticket: asyncio.Future[None]) -> None:
        """A waiter gives up: out of the queue, or, if it was handed a slot, pass it on."""
        if ticket.done() and not ticket.cancelled():
            self._release()
            return
        ticket.cancel()
        with contextlib.suppress(ValueError):
            self._waiters.remove(ticket)

    def _release(self) -> None:
        """Hand the slot to the first live waiter (the count stays), or free it."""
        while self._waiters:
            ticket = self._waiters.popleft()
            if not ticket.done():
                ticket.set_result(None)
                return
        self.busy -= 1


class Slot:
    """One compute slot; ``release`` may be called any number of times (the first counts)."""

    def __init__(self, gate: ComputeGate) -> None:
        self._gate: ComputeGate | None = gate

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` in a worker thread; if the request is cancelled, the thread still finishes
        before the cancellation goes on (so the slot is never freed under running work)."""
        return await anyio.to_thread.run_sync(fn)

    def release(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate._release()
