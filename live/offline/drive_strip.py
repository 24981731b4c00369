"""The picture `live drive-eval --strip` writes: driver | avatar face tiles at telling moments of each clip."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from live.errors import UsageError
from live.face.expression import measure_series

if TYPE_CHECKING:
    from live.offline.expression import DriveRecord

STRIP_MOMENTS = ("neutral", "eyes closed", "smile", "mouth open", "teeth")
STRIP_TILE_PX = 160


def face_tile(image_bgr: np.ndarray, face: np.ndarray | None, tile_px: int = STRIP_TILE_PX) -> np.ndarray:
    """A square tile around the face (1.6x its landmarks' box), or the whole image when there is no face."""
    if face is None:
        return cv2.resize(image_bgr, (tile_px, tile_px), interpolation=cv2.INTER_AREA)
    low, high = face[:, :2].min(axis=0), face[:, :2].max(axis=0)
    centre, side = (low + high) / 2, float((high - low).max()) * 1.6
    scale = tile_px / side
    matrix = np.array([[scale, 0, tile_px / 2 - scale * centre[0]], [0, scale, tile_px / 2 - scale * centre[1]]])
    return cv2.warpAffine(image_bgr, matrix, (tile_px, tile_px), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def strip_row(record: DriveRecord) -> np.ndarray:
    """Driver | output tiles at the driver's most neutral, most closed-eye, widest-smile, widest-mouth and
    most-teeth frames (among rendered frames); needs drive(..., keep_images=True)."""
    series = measure_series([d if t is not None else None for d, t in zip(record.driver, record.target)])
    medians = {name: np.nanmedian(values) for name, values in series.items()}
    distance = sum(np.abs(series[name] - medians[name]) / (np.nanstd(series[name]) + 1e-9) for name in medians)
    picks = [np.nanargmin(distance), np.nanargmin(series["eye"]), np.nanargmax(series["smile"])]
    picks += [np.nanargmax(series["mouth"]), np.nanargmax(np.nan_to_num(record.driver_teeth, nan=-1.0))]
    tiles = []
    for index in picks:
        tiles += [record.frames_bgr[index], record.output_bgr[index]]
    return np.hstack(tiles)


def write_strip(rows: list[np.ndarray], names: list[str], path: Path) -> None:
    """Rows of strip_row, each labelled with its driver, under a header naming the moments."""
    width = rows[0].shape[1]
    header = np.full((24, width, 3), 255, dtype=np.uint8)
    for column, moment in enumerate(STRIP_MOMENTS):
        x = column * width // len(STRIP_MOMENTS) + 4
        cv2.putText(header, f"{moment}: driver | avatar", (x, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    labelled = [header]
    for row, name in zip(rows, names):
        row = row.copy()
        cv2.putText(row, name, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        labelled.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.vstack(labelled)):
        raise UsageError(f"cannot write {path}: give a writable .png path")
