"""Running a parser on untrusted input in a worker process, with a deadline and a memory cap.

``run_parser(fn, *args, timeout_s=...)`` calls ``fn(*args)`` (a module-level function) in one
of at most ``PARSE_WORKERS`` long-lived worker processes and returns its result. A call still
running after ``timeout_s`` has its worker killed (the next call starts a fresh one) and is an
``ArticleLimitError`` naming ``RAG_PARSE_TIMEOUT_S``; a worker that runs out of its
``PARSE_MEMORY_BYTES`` of address space, or dies, is one too. Errors ``fn`` raises come back
as they are. Calls may come from several threads at once.

Why a process and not a thread: a thread cannot be stopped, so a page that parses for minutes
holds its thread (and a CPU) for minutes after the client gave up, its memory stays with the
server, and a parser holding the GIL slows the event loop; a process is killed at the
deadline, its memory goes back to the system, and the caller only waits on a pipe.

Why ``python -m rag.articles.sandbox`` and not ``multiprocessing``: forking a server copies its
threads' locks and its models' address space (which a memory cap would then count), and the spawn
and forkserver methods re-run the caller's ``__main__`` script in the worker. A worker reads
length-prefixed pickles of ``(fn, args)`` on stdin and writes ``(status, value)`` on stdout;
it ends when its stdin closes (its parent exited).
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import resource
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any, TypeVar

from rag.errors import ArticleLimitError, ParserUnavailableError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Why 2: parsing is a small share of ingesting (embedding is most of it); two workers let one
# slow page not hold up the next, and cost ~60 MB each while idle.
PARSE_WORKERS = 2
# Why 2 GiB: address space, not memory used; a worker with trafilatura loaded maps ~50 MB,
# and the largest page the limits let through needs ~0.2 GiB more.
PARSE_MEMORY_BYTES = 2 * 2**30
# Why 60 s: starting Python and importing trafilatura takes 1-2 s, more on a busy machine;
# it is not charged to the first parse's deadline.
START_TIMEOUT_S = 60.0
PRELOAD = ("rag.articles.html", "trafilatura")  # imported by a worker as it starts
_READY = b"ready\n"
_HEADER = struct.Struct(">Q")


class _Stopped(Exception):
    """The worker did not answer in time, or exited."""


class _Worker:
    """One ``python -m rag.articles.sandbox`` process, ready for jobs."""

    def __init__(self) -> None:
        path = os.pathsep.join(p for p in sys.path if p)  # as multiprocessing's spawn does
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rag.articles.sandbox"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            env={**os.environ, "PYTHONPATH": path},
        )
        try:
            ready = _read(self._out, len(_READY), time.monotonic() + START_TIMEOUT_S)
        except _Stopped:
            ready = b""
        if ready != _READY:
            self.kill()
            raise ParserUnavailableError(
                f"the page parser's worker did not start (exit code {self.proc.poll()})"
            )

    @property
    def _out(self) -> int:
        assert self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], timeout_s: float) -> Any:
        assert self.proc.stdin is not None
        _write(self.proc.stdin, pickle.dumps((fn, args), pickle.HIGHEST_PROTOCOL))
        deadline = time.monotonic() + timeout_s
        (size,) = _HEADER.unpack(_read(self._out, _HEADER.size, deadline))
        return pickle.loads(_read(self._out, size, deadline))

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


class _Pool:
    """At most ``size`` workers; a caller takes an idle one, or starts one, or waits."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.idle: list[_Worker] = []
        self.started = 0
        self.changed = threading.Condition()

    def take(self) -> _Worker:
        with self.changed:
            while not self.idle and self.started >= self.size:
                self.changed.wait()
            if self.idle:
                return self.idle.pop()
            self.started += 1
        try:
            return _Worker()
        except BaseException:
            self.give(None)
            raise

    def give(self, worker: _Worker | None) -> None:
        """Return a healthy ``worker``; ``None`` when it was killed or never started."""
        with self.changed:
            if worker is None:
                self.started -= 1
            else:
                self.idle.append(worker)
            self.changed.notify()

    def close(self) -> None:
        with self.changed:
            for worker in self.idle:
                worker.kill()
            self.started -= len(self.idle)
            self.idle.clear()


_pool = _Pool(PARSE_WORKERS)
atexit.register(_pool.close)


def run_parser(fn: Callable[..., T], *args: Any, timeout_s: float) -> T:
    """``fn(*args)`` in a worker process, within ``timeout_s`` seconds (see the module doc)."""
    worker = _pool.take()
    try:
        status, value = worker.call(fn, args, timeout_s)
    except _Stopped:
        code = worker.proc.poll()
        worker.kill()
        _pool.give(None)
        if code is None:
            raise ArticleLimitError(
                f"parsing took longer than {timeout_s:g} s, the limit (RAG_PARSE_TIMEOUT_S)"
            ) from None
        log.warning("a parser worker exited (exit code %s)", code)
        raise ArticleLimitError(f"the parser stopped (exit code {code})") from None
    except BaseException:
        worker.kill()
        _pool.give(None)
        raise
    if status == "memory":
        worker.kill()
        _pool.give(None)
        raise ArticleLimitError(
            f"parsing needed more than {PARSE_MEMORY_BYTES / 2**30:g} GiB of memory"
        )
    _pool.give(worker)
    if status == "error":
        if isinstance(value, ImportError):  # the parser's libraries, not the page
            raise ParserUnavailableError(
                f"parsing pages needs a library that is not installed ({value}); "
                "reinstall the project: pip install ."
            ) from value
        raise value
    result: T = value
    return result


def _write(pipe: IO[bytes], data: bytes) -> None:
    pipe.write(_HEADER.pack(len(data)) + data)
    pipe.flush()


def _read(fd: int, size: int, deadline: float) -> bytes:
    """Exactly ``size`` bytes from ``fd`` before ``deadline``, else ``_Stopped``."""
    data = bytearray()
    while len(data) < size:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise _Stopped("timed out")
        piece = os.read(fd, min(size - len(data), 1 << 20))
        if not piece:
            raise _Stopped("exited")
        data += piece
    return bytes(data)


def _serve() -> None:
    """The worker: cap memory, import the parsers, then run jobs until stdin closes."""
    import importlib

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = PARSE_MEMORY_BYTES if hard == resource.RLIM_INFINITY else min(PARSE_MEMORY_BYTES, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    for name in PRELOAD:
        importlib.import_module(name)
    jobs, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the replies
    replies.write(_READY)
    replies.flush()
    while len(header := jobs.read(_HEADER.size)) == _HEADER.size:
        fn, args = pickle.loads(jobs.read(_HEADER.unpack(header)[0]))
        _write(replies, _run(fn, args))


def _run(fn: Callable[..., Any], args: tuple[Any, ...]) -> bytes:
    try:
        reply: tuple[str, Any] = ("ok", fn(*args))
    except MemoryError:
        reply = ("memory", None)
    except Exception as exc:  # noqa: BLE001 - the caller raises it
        reply = ("error", exc)
    try:
        return pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - an error that cannot be pickled
        return pickle.dumps(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


if __name__ == "__main__":
    _serve()
