"""The micro-batcher under faults: a failing key, a wrong model, a stuck model (fast lane).

Every call runs in a daemon thread joined with a timeout, so a batcher that hangs fails the
test instead of hanging the suite.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from api.errors import status_for
from rag.errors import ModelTimeoutError, OverloadedError
from rag.runtime.batching import MicroBatcher

JOIN_S = 5.0  # far longer than any call here takes when the batcher works


def _call(batcher: MicroBatcher[Any, Any], items: list[Any]) -> Callable[[], Any]:
    """Start ``batcher(items)`` in a thread; the returned function gives its result or raises
    its exception, and fails the test if the call is still waiting after ``JOIN_S``."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = batcher(items)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def result() -> Any:
        thread.join(JOIN_S)
        assert not thread.is_alive(), f"batcher({items!r}) still waiting after {JOIN_S} s"
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    return result


def _squares(items: list[int]) -> list[int]:
    return [i * i for i in items]


def _picky_key(item: int) -> int:
    if item < 0:
        raise ValueError(f"no key for {item}")
    return item


def test_a_failing_key_fails_only_its_caller_and_the_batcher_keeps_serving() -> None:
    batcher: MicroBatcher[int, int] = MicroBatcher(_squares, key=_picky_key, window_s=0.0)
    with pytest.raises(ValueError, match="no key for -1"):
        _call(batcher, [2, -1])()
    assert _call(batcher, [3, 4])() == [9, 16]


def test_callers_batched_with_a_failing_key_still_get_their_results() -> None:
    entered, gate = threading.Event(), threading.Event()
    calls: list[list[int]] = []

    def gated(items: list[int]) -> list[int]:
        calls.append(list(items))
        entered.set()
        gate.wait(JOIN_S)
        return _squares(items)

    batcher: MicroBatcher[int, int] = MicroBatcher(gated, key=_picky_key, window_s=0.0)
    first = _call(batcher, [1])  # holds the model while the next two queue into one batch
    assert entered.wait(JOIN_S)
    bad, good = _call(batcher, [-5]), _call(batcher, [6, 7])
    gate.set()
    assert first() == [1]
    with pytest.raises(ValueError, match="no key for -5"):
        bad()
    assert good() == [36, 49]
    assert calls == [[1], [6, 7]]


def test_a_model_giving_too_few_results_fails_the_batch_not_the_batcher() -> None:
    short = {"on": True}

    def model(items: list[int]) -> list[int]:
        return _squares(items)[: len(items) - 1] if short["on"] else _squares(items)

    batcher: MicroBatcher[int, int] = MicroBatcher(model, window_s=0.0)
    with pytest.raises(IndexError):
        _call(batcher, [1, 2])()
    short["on"] = False
    assert _call(batcher, [5])() == [25]


def test_a_stuck_model_times_out_with_a_clear_error_then_recovers() -> None:
    entered, release = threading.Event(), threading.Event()
    seen: list[list[int]] = []

    def stuck_once(items: list[int]) -> list[int]:
        seen.append(list(items))
        entered.set()
        release.wait(JOIN_S)
        return _squares(items)

    batcher: MicroBatcher[int, int] = MicroBatcher(
        stuck_once, window_s=0.0, timeout_s=0.2, name="reranker"
    )
    stuck = _call(batcher, [1])
    assert entered.wait(JOIN_S)
    waiting = _call(batcher, [2])  # queued behind the stuck call
    with pytest.raises(ModelTimeoutError, match="reranker did not answer within 0.2 s"):
        stuck()
    with pytest.raises(ModelTimeoutError):
        waiting()
    release.set()
    assert _call(batcher, [3])() == [9]
    assert seen == [[1], [3]]  # a caller that gave up is not computed afterwards


def test_a_model_timeout_is_a_retryable_503() -> None:
    error = ModelTimeoutError("the reranker did not answer within 120 s")
    assert isinstance(error, OverloadedError)
    assert error.code == "model_timeout"
    assert status_for(error) == 503
