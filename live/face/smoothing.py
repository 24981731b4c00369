"""One Euro filter (Casiez, Roussel and Vogel, CHI 2012) over numpy arrays.

A low-pass filter whose cutoff rises with the signal's speed: strong smoothing
when still (no jitter), little lag when moving fast. A 1-D array is filtered
element by element, each with its own adaptive cutoff; in a 2-D array each row
is one point (e.g. a landmark's x, y, z) whose cutoff follows the norm of the
row's speed, so a point's coordinates are smoothed alike and a moving point
is not held back by one slow coordinate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class OneEuroParameters:
    """min_cutoff_hz: cutoff when still (lower = smoother, more lag at low speed).
    beta: how fast the cutoff rises with speed (cutoff_hz = min_cutoff_hz + beta * |speed|,
        speed in the signal's units per second; higher = less lag when moving).
    derivative_cutoff_hz: cutoff of the low-pass on the speed estimate.
    """

    min_cutoff_hz: float = 1.0
    beta: float = 0.0
    derivative_cutoff_hz: float = 1.0


def smoothing_factor(period_s: float, cutoff_hz: float | np.ndarray) -> float | np.ndarray:
    """Exponential-smoothing weight of a first-order low-pass at `cutoff_hz` sampled every `period_s`."""
    time_constant_s = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + time_constant_s / period_s)


class OneEuroFilter:
    """`filter(values, t_s)` returns the smoothed values; `reset()` forgets the past."""

    def __init__(self, parameters: OneEuroParameters) -> None:
        self.parameters = parameters
        self._previous_values: np.ndarray | None = None
        self._previous_speed: np.ndarray | None = None
        self._previous_t_s = 0.0

    def reset(self) -> None:
        """Start over: the next sample passes through unchanged."""
        self._previous_values = None
        self._previous_speed = None

    def filter(self, values: np.ndarray, t_s: float) -> np.ndarray:
        """Smooth one sample taken at time `t_s` (seconds, increasing); returns a new array."""
        values = np.asarray(values, dtype=np.float64)
        if self._previous_values is None or self._previous_speed is None:
            self._previous_values = values.copy()
            self._previous_speed = np.zeros_like(values)
            self._previous_t_s = t_s
            return values.copy()
        period_s = t_s - self._previous_t_s
        if period_s <= 0.0:
            return self._previous_values.copy()
        parameters = self.parameters
        speed = (values - self._previous_values) / period_s
        speed_weight = smoothing_factor(period_s, parameters.derivative_cutoff_hz)
        speed = self._previous_speed + speed_weight * (speed - self._previous_speed)
        speed_size = np.abs(speed) if speed.ndim < 2 else np.linalg.norm(speed, axis=-1, keepdims=True)
        cutoff_hz = parameters.min_cutoff_hz + parameters.beta * speed_size
        weight = smoothing_factor(period_s, cutoff_hz)
        smoothed = self._previous_values + weight * (values - self._previous_values)
        self._previous_values = smoothed
        self._previous_speed = speed
        self._previous_t_s = t_s
        return smoothed.copy()


class PoseExpressionSmoothing:
    """The retargeter's two One Euro filters: head pose (heavier) and expression (fast mouth motion is not
    held back by the head's smoothing). `enabled=False` passes everything through."""

    def __init__(self, pose: OneEuroParameters, expression: OneEuroParameters, enabled: bool = True) -> None:
        self.enabled = enabled
        self._pose = OneEuroFilter(pose)
        self._expression = OneEuroFilter(expression)

    def pose(self, values: np.ndarray, t_s: float) -> np.ndarray:
        """Smoothed pose vector (rotation vector, shift, log scale)."""
        return self._pose.filter(values, t_s) if self.enabled else values

    def expression(self, values: np.ndarray, t_s: float) -> np.ndarray:
        """Smoothed (478, 3) expression displacements."""
        return self._expression.filter(values, t_s) if self.enabled else values

    def reset(self) -> None:
        """Start over (tracking lost, a gap, a new calibration)."""
        self._pose.reset()
        self._expression.reset()
