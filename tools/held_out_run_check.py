"""A model driven by its target's own held-out frames through `live run` (full retargeting, as a user runs it),
scored against those real frames on the face box: the bounding box of the real frame's MediaPipe face oval, cut
out and resized to 160x160 grey (live.offline.image_metrics.face_box_grey).

Usage: python tools/held_out_run_check.py MODEL.onnx DATASET [--work DIR] [-- extra `live run` options]

Prints one JSON line: frames, face PSNR and SSIM on the grey box, the detail ratio (mean Laplacian variance of
the output boxes over the real ones) and the mean GMSD. `live eval` scores the generator on the held-out
frames' own sketches; this goes through the whole run path (landmarks of the frame, retargeting, the
corrections, paste-back).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from live.engines.landmarks import LandmarkDetector
from live.formats.dataset import load_dataset
from live.formats.sketch import face_mask
from live.offline.image_metrics import face_box_grey, gmsd, laplacian_variance, psnr_db, ssim


def write_held_out_frames(dataset_path: Path, folder: Path) -> list[np.ndarray]:
    """The dataset's validation frames (native size) as numbered PNGs in `folder`; the frames."""
    dataset = load_dataset(dataset_path)
    frames = [dataset.native_frame(int(index)) for index in dataset.indices("val")]
    folder.mkdir(parents=True, exist_ok=True)
    for number, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{number:05d}.png"), frame)
    return frames


def face_boxes(real_frames: list[np.ndarray], outputs: list[np.ndarray]) -> tuple[list, list]:
    """Grey 160 px face boxes of the real frames and of the outputs, cut where the real face is."""
    real_boxes, output_boxes = [], []
    with LandmarkDetector() as detector:
        for real, output in zip(real_frames, outputs):
            landmarks = detector.detect(real)
            if landmarks is None:
                continue
            height_px, width_px = real.shape[:2]
            mask = face_mask(landmarks, max(height_px, width_px))[:height_px, :width_px]
            real_boxes.append(face_box_grey(real, mask))
            output_boxes.append(face_box_grey(output, mask))
    return real_boxes, output_boxes


def scores(real_boxes: list, output_boxes: list) -> dict[str, float]:
    grey = [
        (np.clip(a, 0, 255).astype(np.uint8), np.clip(b, 0, 255).astype(np.uint8))
        for a, b in zip(real_boxes, output_boxes)
    ]
    return {
        "frames": len(real_boxes),
        "psnr_db_face_box": round(float(np.mean([psnr_db(a, b) for a, b in grey])), 2),
        "ssim_face_box": round(float(np.mean([ssim(a, b) for a, b in grey])), 4),
        "detail_ratio_face": round(
            float(
                np.mean([laplacian_variance(b) for b in output_boxes])
                / np.mean([laplacian_variance(a) for a in real_boxes])
            ),
            3,
        ),
        "gmsd_face": round(float(np.mean([gmsd(a, b) for a, b in zip(real_boxes, output_boxes)])), 4),
    }


def main(argv: list[str]) -> int:
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="held_out_"))
    real_frames = write_held_out_frames(args.dataset, work / "real")
    command = [sys.executable, "-m", "live", "run", "--model", str(args.model), "--source", f"{work / 'real'}/"]
    command += ["--no-pace", "--no-badge", "--output", f"{work / 'out'}/", *extra]
    subprocess.run(command, check=True, capture_output=True, text=True)
    outputs = [cv2.imread(str(path)) for path in sorted((work / "out").glob("*.png"))]
    if len(outputs) != len(real_frames):
        raise SystemExit(f"live run wrote {len(outputs)} frames for {len(real_frames)}")
    print(json.dumps({"model": str(args.model), "work": str(work), **scores(*face_boxes(real_frames, outputs))}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
