"""`live cameras`: list the webcams that open, with the size and frame rate they deliver."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import cv2

from live.io.sources import CameraOpener, quiet_opencv


@dataclass(frozen=True, slots=True)
class CameraInfo:
    """A camera that opened while probing."""

    index: int
    size_px: tuple[int, int]
    fps: float


def list_cameras(max_index: int, camera_opener: CameraOpener = cv2.VideoCapture) -> list[CameraInfo]:
    """Cameras 0..max_index-1 that open and deliver a frame, with their actual size and fps."""
    found: list[CameraInfo] = []
    for index in range(max_index):
        with quiet_opencv():  # absent indices are expected here
            capture = camera_opener(index)
        try:
            if not capture.isOpened():
                continue
            ok, image_bgr = capture.read()
            if ok and image_bgr is not None:
                found.append(
                    CameraInfo(
                        index, (image_bgr.shape[1], image_bgr.shape[0]), float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
                    )
                )
        finally:
            capture.release()
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `live cameras` options."""
    parser.add_argument("--max-index", type=int, default=10, help="try camera indices 0 .. N-1 (default 10)")


def run(args: argparse.Namespace) -> int:
    """Print one line per camera that opens, or one line saying none did."""
    cameras = list_cameras(args.max_index)
    if not cameras:
        print(f"no camera opened (tried indices 0-{args.max_index - 1}): plug one in, or close the program using it")
        return 0
    for camera in cameras:
        width_px, height_px = camera.size_px
        fps_text = f"{camera.fps:.1f} fps" if camera.fps else "fps not reported"
        print(f"camera {camera.index}: {width_px}x{height_px} @ {fps_text}  (live run --source {camera.index})")
    return 0
