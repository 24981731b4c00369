"""Timing calls for `live bench`: warm up, then time each call in milliseconds."""

from __future__ import annotations

import time
from collections.abc import Callable

WARMUP_CALLS = 2
MIN_CALLS = 5


def time_one(call: Callable[[int], object], index: int) -> float:
    start_s = time.perf_counter()
    call(index)
    return (time.perf_counter() - start_s) * 1000.0


def time_calls(call: Callable[[int], object], budget_s: float, min_calls: int = MIN_CALLS) -> list[float]:
    """Milliseconds of call(0), call(1), ... after WARMUP_CALLS, until `budget_s` passed and `min_calls` were made."""
    for index in range(WARMUP_CALLS):
        call(index)
    samples_ms: list[float] = []
    deadline_s = time.perf_counter() + budget_s
    index = WARMUP_CALLS
    while len(samples_ms) < min_calls or time.perf_counter() < deadline_s:
        samples_ms.append(time_one(call, index))
        index += 1
    return samples_ms
