"""What `live record`'s window shows: the camera (mirrored), the prompt above it, bad conditions below it,
and the coverage meter beside it, one bar per bin of live.face.coverage filling towards its target.

Everything is drawn with OpenCV into one SCREEN_HEIGHT_PX tall image, shown 1:1 by the window (live.io.sinks).
The prompt band and the meter's labels are opaque, so the same text draws the same pixels on every frame.
Hershey fonts draw ASCII only: other letters are shown without their accents (`screen_text`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import cv2
import numpy as np

from live.face.coverage import BIN_NAMES

SCREEN_HEIGHT_PX = 540
PANEL_WIDTH_PX = 400
LABEL_WIDTH_PX = 170  # the meter's label column
ROW_HEIGHT_PX = 34
METER_TOP_PX = 60
FONT = cv2.FONT_HERSHEY_SIMPLEX
BAND_BGR = (40, 32, 24)
PANEL_BGR = (48, 40, 36)
TEXT_BGR = (245, 245, 245)
READ_BGR = (150, 230, 255)
HIGHLIGHT_BGR = (80, 220, 255)
FULL_BGR = (90, 200, 90)
FILLING_BGR = (40, 150, 240)
EMPTY_BGR = (80, 72, 68)
WARNING_BGR = (60, 60, 230)


@dataclass(frozen=True, slots=True)
class ScreenView:
    """What one screen shows. title: the prompt (with its place, "3/13"); read: text to read aloud;
    seconds_left: shown at the band's right; counts / target_frames: the meter; current_bins: the bins the
    prompt fills (highlighted); warnings: one line per bad condition; keys: what the keys do (the panel's foot)."""

    title: str
    read: str = ""
    seconds_left: float | None = None
    counts: dict[str, int] | None = None
    target_frames: int = 1
    current_bins: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    frames: int = 0
    keys: str = ""


def screen_text(text: str) -> str:
    """`text` in the letters a Hershey font draws: accents dropped, other characters as "?"."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(character for character in decomposed if not unicodedata.combining(character))
    return "".join(character if 32 <= ord(character) < 127 else "?" for character in kept)


def preview_width_px(frame_size_px: tuple[int, int]) -> int:
    """Width of the camera's picture scaled to SCREEN_HEIGHT_PX tall."""
    width_px, height_px = frame_size_px
    return max(1, round(width_px * SCREEN_HEIGHT_PX / height_px))


def screen_size_px(frame_size_px: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of the window's image for frames of `frame_size_px`: the window opens at it (1:1)."""
    return preview_width_px(frame_size_px) + PANEL_WIDTH_PX, SCREEN_HEIGHT_PX


def wrap(text: str, width_px: int, scale: float, thickness: int) -> list[str]:
    """`text` broken into lines no wider than `width_px` in FONT at `scale`."""
    lines: list[str] = []
    for word in screen_text(text).split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and cv2.getTextSize(candidate, FONT, scale, thickness)[0][0] <= width_px:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def draw_screen(frame_bgr: np.ndarray, view: ScreenView) -> np.ndarray:
    """The window's image: the mirrored frame with the prompt band and warnings, the meter at its right."""
    preview_px = preview_width_px((frame_bgr.shape[1], frame_bgr.shape[0]))
    canvas = np.empty((SCREEN_HEIGHT_PX, preview_px + PANEL_WIDTH_PX, 3), dtype=np.uint8)
    cv2.resize(cv2.flip(frame_bgr, 1), (preview_px, SCREEN_HEIGHT_PX), dst=canvas[:, :preview_px])
    draw_prompt_band(canvas[:, :preview_px], view)
    draw_warnings(canvas[:, :preview_px], view.warnings)
    draw_meter(canvas[:, preview_px:], view)
    return canvas


def draw_prompt_band(area: np.ndarray, view: ScreenView) -> int:
    """The prompt's title (and the text to read) on an opaque band at the top of `area`; its height."""
    width_px = area.shape[1]
    title_lines = wrap(view.title, width_px - 90, 0.75, 2)
    read_lines = wrap(view.read, width_px - 30, 0.65, 1) if view.read else []
    height_px = 16 + 32 * len(title_lines) + 28 * len(read_lines)
    area[:height_px] = BAND_BGR
    y_px = 36
    for line in title_lines:
        cv2.putText(area, line, (15, y_px), FONT, 0.75, TEXT_BGR, 2, cv2.LINE_AA)
        y_px += 32
    for line in read_lines:
        cv2.putText(area, line, (15, y_px - 4), FONT, 0.65, READ_BGR, 1, cv2.LINE_AA)
        y_px += 28
    if view.seconds_left is not None:
        cv2.putText(area, f"{view.seconds_left:2.0f} s", (width_px - 70, 36), FONT, 0.75, TEXT_BGR, 2, cv2.LINE_AA)
    return height_px


def draw_warnings(area: np.ndarray, warnings: tuple[str, ...]) -> None:
    """One line per bad condition, on an opaque band at the bottom of `area`."""
    lines = [line for warning in warnings for line in wrap(warning, area.shape[1] - 30, 0.6, 2)]
    if not lines:
        return
    top_px = area.shape[0] - 12 - 28 * len(lines)
    area[top_px:] = BAND_BGR
    for number, line in enumerate(lines):
        cv2.putText(area, line, (15, top_px + 26 + 28 * number), FONT, 0.6, WARNING_BGR, 2, cv2.LINE_AA)


def draw_meter(panel: np.ndarray, view: ScreenView) -> None:
    """The coverage meter: per bin, its label and a bar filling towards the target (green once full)."""
    panel[:] = PANEL_BGR
    counts = view.counts or {}
    cv2.putText(panel, "coverage", (15, 32), FONT, 0.75, TEXT_BGR, 2, cv2.LINE_AA)
    cv2.putText(panel, f"{view.frames} frames", (LABEL_WIDTH_PX, 32), FONT, 0.6, TEXT_BGR, 1, cv2.LINE_AA)
    bar_px = PANEL_WIDTH_PX - LABEL_WIDTH_PX - 80
    for row, name in enumerate(BIN_NAMES):
        top_px = METER_TOP_PX + ROW_HEIGHT_PX * row
        colour = HIGHLIGHT_BGR if name in view.current_bins else TEXT_BGR
        cv2.putText(panel, name.replace("_", " "), (15, top_px + 22), FONT, 0.55, colour, 1, cv2.LINE_AA)
        fill = min(1.0, counts.get(name, 0) / max(1, view.target_frames))
        x0_px, x1_px = LABEL_WIDTH_PX, LABEL_WIDTH_PX + bar_px
        cv2.rectangle(panel, (x0_px, top_px + 8), (x1_px, top_px + 26), EMPTY_BGR, cv2.FILLED)
        if fill > 0:
            end_px = x0_px + round(bar_px * fill)
            cv2.rectangle(panel, (x0_px, top_px + 8), (end_px, top_px + 26), FULL_BGR if fill >= 1 else FILLING_BGR, -1)
        text = f"{counts.get(name, 0)}/{view.target_frames}" if name in counts else "-"
        cv2.putText(panel, text, (x1_px + 8, top_px + 22), FONT, 0.45, TEXT_BGR, 1, cv2.LINE_AA)
    cv2.putText(panel, view.keys, (15, panel.shape[0] - 20), FONT, 0.5, TEXT_BGR, 1, cv2.LINE_AA)


def draw_end_screen(frame_size_px: tuple[int, int], lines: list[str], view: ScreenView) -> np.ndarray:
    """The last screen: `lines` (what was saved, what is still missing) where the camera was, and the meter."""
    preview_px = preview_width_px(frame_size_px)
    canvas = np.empty((SCREEN_HEIGHT_PX, preview_px + PANEL_WIDTH_PX, 3), dtype=np.uint8)
    canvas[:, :preview_px] = BAND_BGR
    y_px = 40
    for line in lines:
        for part in wrap(line, preview_px - 30, 0.6, 1):
            cv2.putText(canvas, part, (15, y_px), FONT, 0.6, TEXT_BGR, 1, cv2.LINE_AA)
            y_px += 26
        y_px += 6
    draw_meter(canvas[:, preview_px:], view)
    return canvas
