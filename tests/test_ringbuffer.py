"""The bounded drop-oldest buffer between pipeline threads."""

from __future__ import annotations

import threading

import pytest

from live.pipeline.ringbuffer import RingBuffer


def test_full_buffer_drops_the_oldest_and_counts_it() -> None:
    buffer: RingBuffer[int] = RingBuffer("frames", capacity=3)
    for item in range(10):
        assert buffer.put(item)
    assert len(buffer) == 3
    assert buffer.dropped_count == 7
    assert [buffer.get(0), buffer.get(0), buffer.get(0)] == [7, 8, 9]
    assert buffer.get(0) is None
    assert buffer.high_water == 3


def test_slow_consumer_gets_the_newest_items_and_never_more_than_capacity() -> None:
    capacity, total = 2, 300
    buffer: RingBuffer[int] = RingBuffer("frames", capacity=capacity)
    newest = [-1]
    lock = threading.Lock()  # makes "newest put" and "item got" one observation
    work_done = threading.Event()
    received: list[int] = []
    stale: list[tuple[int, int]] = []

    def consume() -> None:
        while not buffer.finished:
            with lock:
                item = buffer.get(0)
                newest_put = newest[0]
            if item is not None:
                if item <= newest_put - capacity:
                    stale.append((item, newest_put))
                received.append(item)
            work_done.wait(0.002)  # a slow stage

    consumer = threading.Thread(target=consume)
    consumer.start()
    for item in range(total):
        with lock:
            buffer.put(item)
            newest[0] = item
        work_done.wait(0.0005)  # a producer faster than the consumer, but not infinitely so
    buffer.close()
    consumer.join(10)
    assert not consumer.is_alive()
    assert stale == []
    assert received == sorted(set(received))
    assert received[-1] == total - 1
    assert buffer.high_water <= capacity
    assert 10 < len(received) < total and buffer.dropped_count > 0
    assert len(received) + buffer.dropped_count == total


def test_close_wakes_a_waiting_consumer_after_the_remaining_items() -> None:
    buffer: RingBuffer[str] = RingBuffer("rendered", capacity=2)
    buffer.put("last")
    got: list[str | None] = []

    def consume() -> None:
        got.append(buffer.get(30))
        got.append(buffer.get(30))

    consumer = threading.Thread(target=consume)
    consumer.start()
    buffer.close()
    consumer.join(5)
    assert not consumer.is_alive()
    assert got == ["last", None]
    assert buffer.finished


def test_put_after_close_is_refused_and_counted() -> None:
    buffer: RingBuffer[int] = RingBuffer("sketches", capacity=1)
    buffer.close()
    assert not buffer.put(1)
    assert buffer.dropped_count == 1
    assert buffer.put_count == 0


def test_discard_remaining_counts_abandoned_items() -> None:
    buffer: RingBuffer[int] = RingBuffer("frames", capacity=4)
    for item in range(3):
        buffer.put(item)
    assert buffer.discard_remaining() == 3
    assert buffer.dropped_count == 3
    assert len(buffer) == 0


def test_blocking_buffer_keeps_every_item_in_order() -> None:
    buffer: RingBuffer[int] = RingBuffer("frames", capacity=1, block_when_full=True)
    received: list[int] = []

    def consume() -> None:
        while (item := buffer.get(5)) is not None:
            received.append(item)

    consumer = threading.Thread(target=consume)
    consumer.start()
    for item in range(200):
        buffer.put(item)
    buffer.close()
    consumer.join(10)
    assert received == list(range(200))
    assert buffer.dropped_count == 0
    assert buffer.high_water == 1


def test_close_releases_a_producer_blocked_on_a_full_buffer() -> None:
    buffer: RingBuffer[int] = RingBuffer("frames", capacity=1, block_when_full=True)
    buffer.put(0)
    results: list[bool] = []
    producer = threading.Thread(target=lambda: results.append(buffer.put(1)))
    producer.start()
    buffer.close()
    producer.join(5)
    assert results == [False]
    assert buffer.dropped_count == 1


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        RingBuffer("frames", capacity=0)
