"""How far the output's mouth corners rise and fall with the driver's (`live drive-eval`'s lift columns).

A corner's lift (live.face.corner_warp.corner_lifts) is measured on the driver against the driver's first
tracked face, and on the output against the avatar's neutral, both in face heights (negative: up). Per clip
(live.offline.expression):

    lift r: best-lag Pearson r of the mean lift of both corners, driver vs output;
    lift reach: how high the output's corners rise when the driver's rise most, as a share of the driver's
        rise (the median lift minus its REACH_PERCENTILE-th percentile, output over driver); 1: as high.

Smile width (corner distance / face width, `smile r`) does not see whether a grin lifts the corners; this does.
"""

from __future__ import annotations

import numpy as np

from live.face.corner_warp import corner_lifts

REACH_PERCENTILE = 5.0


def _lifts(faces: list[np.ndarray | None], reference_px: np.ndarray) -> np.ndarray:
    """Mean lift of both corners per frame (NaN without a face)."""
    reference = np.asarray(reference_px, dtype=np.float64)
    return np.array([np.nan if face is None else float(corner_lifts(face, reference).mean()) for face in faces])


def lift_series(
    driver: list[np.ndarray | None], output: list[np.ndarray | None], neutral_px: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per frame where the output has a face, the driver's lift and the output's (NaN elsewhere); None when
    no frame has both."""
    driven = [face if found is not None else None for face, found in zip(driver, output)]
    first = next((face for face in driven if face is not None), None)
    return None if first is None else (_lifts(driven, first), _lifts(output, neutral_px))


def _rise(lifts: np.ndarray) -> float:
    present = lifts[np.isfinite(lifts)]
    return float(np.median(present) - np.percentile(present, REACH_PERCENTILE))


def reach(driver_lifts: np.ndarray, output_lifts: np.ndarray) -> float | None:
    """The output's rise over the driver's (None when the driver's corners never rise)."""
    driver_rise = _rise(driver_lifts)
    return None if driver_rise < 1e-6 else _rise(output_lifts) / driver_rise
