"""A clip of only a recording's frontal, neutral-ish frames: what a recording made without `live record`'s
prompts would hold. For the "does coverage matter?" experiment in docs/experiments.md.

Usage: python tools/cut_by_coverage.py DATASET VIDEO OUT.mp4 [--share 0.5]

DATASET is `live prepare` of VIDEO alone. Frames in none of the coverage bins (live.face.coverage.bin_flags:
eyes closed, mouth wide open, smiling, head turned, brows raised, frown) are ranked by how far their yaw,
pitch, eye opening, mouth opening and smile lie from the clip's median (each over its spread between the 5th
and 95th percentile), and the nearest `--share` of all the dataset's frames are written, in their order, at the
clip's frame rate with `live record`'s encoder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from live.face.coverage import CoverageMeter
from live.formats.dataset import load_dataset
from live.io.record_writer import RecordingWriter

RANKED_MEASURES = ("yaw", "pitch", "eye", "mouth", "smile")


def chosen_frames(landmarks_px: np.ndarray, share: float) -> tuple[np.ndarray, dict[str, int]]:
    """Dataset indices of the frontal, neutral-ish frames (sorted), and how many frames each bin had."""
    meter = CoverageMeter()
    for face in landmarks_px:
        meter.add(face)
    flags, series = meter.flags(), meter.series()
    in_a_bin = np.any(np.stack(list(flags.values())), axis=0)
    distance = np.zeros(len(landmarks_px))
    for name in RANKED_MEASURES:
        values = series[name]
        low, middle, high = np.percentile(values, [5, 50, 95])
        distance += ((values - middle) / max(high - low, 1e-6)) ** 2
    distance[in_a_bin] = np.inf
    count = min(int(round(share * len(landmarks_px))), int((~in_a_bin).sum()))
    return np.sort(np.argsort(distance)[:count]), meter.counts()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("video", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--share", type=float, default=0.5)
    args = parser.parse_args(argv)
    dataset = load_dataset(args.dataset)
    chosen, counts = chosen_frames(dataset.landmarks_px, args.share)
    wanted = {dataset.manifest.frames[index].frame_index for index in chosen}
    capture = cv2.VideoCapture(str(args.video))
    fps = capture.get(cv2.CAP_PROP_FPS)
    size_px = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    written = 0
    with RecordingWriter(args.out, size_px, fps) as writer:
        frame_index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if frame_index in wanted:
                writer.write(frame)
                written += 1
            frame_index += 1
    capture.release()
    total = len(dataset.landmarks_px)
    print(f"{args.out}: {written} of {total} frames ({written / fps:.1f} s); bins: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
