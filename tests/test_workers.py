"""Several workers on one stage (live.pipeline.workers.InTurn): results leave in the order items were
taken, a failing worker gives up its turn, the last worker closes the outbox."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from live.pipeline.ringbuffer import RingBuffer
from live.pipeline.threads import FailureSlot, StageError, start_stage_thread
from live.pipeline.workers import InTurn

WAIT_S = 5.0  # generous: only reached when the code under test hangs


def start_workers(
    in_turn: InTurn[int, int], steps: list[Callable[[int], int]], stop: threading.Event, failures: FailureSlot
) -> list[threading.Thread]:
    threads = []
    for number, step in enumerate(steps, start=1):
        body, on_exit = in_turn.worker(step)
        threads.append(start_stage_thread(f"worker-{number}", body, on_exit, stop, failures))
    return threads


def drain(outbox: RingBuffer[int]) -> list[int]:
    items = []
    while (item := outbox.get(WAIT_S)) is not None:
        items.append(item)
    assert outbox.finished, "the outbox was never closed"
    return items


def test_a_later_item_finished_first_waits_for_the_earlier_one() -> None:
    inbox: RingBuffer[int] = RingBuffer("in", 8, block_when_full=True)
    outbox: RingBuffer[int] = RingBuffer("out", 8, block_when_full=True)
    stop, failures = threading.Event(), FailureSlot()
    finished: list[int] = []
    second_done = threading.Event()

    def step(item: int) -> int:
        if item == 0:  # the first item is slow: it finishes only after item 1 is done
            assert second_done.wait(WAIT_S)
        finished.append(item)
        if item == 1:
            second_done.set()
        return item * 10

    seen_in_order: list[int] = []
    in_turn: InTurn[int, int] = InTurn(inbox, outbox, stop, then=lambda result: seen_in_order.append(result) or result)
    threads = start_workers(in_turn, [step, step], stop, failures)
    for item in range(6):
        inbox.put(item)
    inbox.close()

    assert drain(outbox) == [0, 10, 20, 30, 40, 50]
    assert finished[:2] == [1, 0]  # really finished out of turn
    assert seen_in_order == [0, 10, 20, 30, 40, 50]  # `then` saw them in order too
    for thread in threads:
        thread.join(WAIT_S)
    assert not any(thread.is_alive() for thread in threads)
    assert failures.error is None


def test_a_failing_worker_gives_up_its_turn_and_the_failure_is_reported() -> None:
    inbox: RingBuffer[int] = RingBuffer("in", 8, block_when_full=True)
    outbox: RingBuffer[int] = RingBuffer("out", 8, block_when_full=True)
    stop, failures = threading.Event(), FailureSlot()
    second_done = threading.Event()

    def step(item: int) -> int:
        if item == 0:
            assert second_done.wait(WAIT_S)
            raise ValueError("the generator broke on frame 0")
        second_done.set()
        return item

    in_turn: InTurn[int, int] = InTurn(inbox, outbox, stop, wait_s=0.05)
    threads = start_workers(in_turn, [step, step], stop, failures)
    inbox.put(0)
    inbox.put(1)

    assert outbox.get(WAIT_S) == 1  # not left waiting for the failed frame 0
    for thread in threads:
        thread.join(WAIT_S)
    assert not any(thread.is_alive() for thread in threads)  # the failure stopped the run: both exited
    assert stop.is_set() and outbox.closed
    with pytest.raises(StageError, match=r"^stage 'worker-\d' failed: ValueError: the generator broke on frame 0"):
        failures.raise_if_failed()


def test_the_outbox_closes_only_when_the_last_worker_exits() -> None:
    inbox: RingBuffer[int] = RingBuffer("in", 4)
    outbox: RingBuffer[int] = RingBuffer("out", 4)
    stop = threading.Event()
    in_turn: InTurn[int, int] = InTurn(inbox, outbox, stop)
    _, first_exit = in_turn.worker(lambda item: item)
    _, second_exit = in_turn.worker(lambda item: item)
    first_exit()
    assert not outbox.closed
    second_exit()
    assert outbox.closed


@pytest.mark.parametrize(
    ("cores", "workers", "threads_each"), [(1, 1, 1), (2, 2, 1), (2, 1, 2), (4, 2, 2), (8, 2, 4), (32, 2, 4)]
)
def test_default_workers_share_the_cores(monkeypatch: pytest.MonkeyPatch, cores: int, workers: int, threads_each: int):
    import os

    import live.pipeline.stages as stages

    monkeypatch.setattr(os, "cpu_count", lambda: cores)  # read by stages and by the generator's default threads
    assert stages.default_generator_workers() == (1 if cores == 1 else 2)
    assert stages.worker_threads(workers) == threads_each
