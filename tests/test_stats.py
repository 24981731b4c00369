"""PipelineStats: whole-run percentiles in constant memory, typed counters, snapshots."""

from __future__ import annotations

import numpy as np
import pytest

from live.pipeline.stats import Event, PipelineStats, Status, TimingWindow, summarise


def test_whole_run_percentiles_match_numpy_within_one_percent() -> None:
    samples_ms = np.random.default_rng(0).lognormal(mean=2.0, sigma=0.6, size=20_000)
    window = TimingWindow()
    for value in samples_ms:
        window.add(float(value))
    summary = window.summary(recent=False)
    exact = summarise(samples_ms.tolist())
    assert summary.count == exact.count == 20_000
    assert summary.max_ms == exact.max_ms
    assert summary.p50_ms == pytest.approx(exact.p50_ms, rel=0.011)
    assert summary.p95_ms == pytest.approx(exact.p95_ms, rel=0.011)


def test_recent_window_is_the_last_samples_only() -> None:
    window = TimingWindow()
    for _ in range(500):
        window.add(100.0)
    for _ in range(200):
        window.add(1.0)
    recent = window.summary(recent=True)
    assert recent.count == 700 and recent.p95_ms == 1.0 and recent.max_ms == 1.0
    assert window.summary(recent=False).max_ms == 100.0


def test_memory_does_not_grow_with_the_run_length() -> None:
    window = TimingWindow()
    for index in range(1000):
        window.add(float(index % 50))
    histogram_bytes = window._histogram.nbytes
    for index in range(200_000):
        window.add(float(index % 50))
    assert window._histogram.nbytes == histogram_bytes and len(window._recent_ms) <= 120


def test_counters_and_status_lines_are_typed() -> None:
    stats = PipelineStats("test")
    stats.count(Event.FACE_LOST)
    stats.count(Event.FACE_LOST)
    stats.set_text(Status.PROVIDER, "CPUExecutionProvider")
    report = stats.snapshot()
    assert report.face_lost_frames == 2 and report.provider == "CPUExecutionProvider"
    with pytest.raises(ValueError):
        stats.count("face_lots")  # a typo fails at once, naming the value


def test_latency_and_rates_from_recorded_outputs() -> None:
    stats = PipelineStats("test")
    for index in range(31):
        stats.record_capture(index / 30)
        stats.record_output(index, index / 30, index / 30 + 0.020)
    stats.record_output(5, 0.0, 2.0)  # out of order
    report = stats.snapshot()
    assert report.frames_captured == 31 and report.frames_written == 32
    assert report.input_fps == pytest.approx(30.0)
    assert report.latency_ms.p50_ms == pytest.approx(20.0, rel=0.011)
    assert report.out_of_order_outputs == 1
