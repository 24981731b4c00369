"""Issue 9 checks on a model driven by a recording: output size, the avatar's face height against the
target's real one, the paste-back transform's jitter, and a few output frames to look at.

Usage: python tools/fullres_check.py MODEL.onnx DRIVER_VIDEO [--frames-out DIR] [--every 20]
Face height = distance between MediaPipe landmarks 10 (top of the forehead) and 152 (chin), static-image
mode, on every output frame with a face; the target's real face height is the same distance on the card's
neutral face placed in its own frame. Jitter = mean distance (frame pixels) the crop's corners move between
consecutive frames: over the whole clip, and over the 30 frames where the driver's head moved least.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from live.engines.generator import GeneratorSessionConfig
from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.face.alignment import apply_transform, crop_transform, invert_transform, transform_jitter_px
from live.face.retarget import RetargetConfig
from live.io.sources import SourceConfig, media_time_s, open_source
from live.pipeline.messages import Frame
from live.pipeline.run import PipelineConfig, open_stages
from live.pipeline.stats import PipelineStats
from live.pipeline.steps import BufferPool, SketchStep, TrackStep

STILL_WINDOW = 30


def face_height_px(landmarks_px: np.ndarray) -> float:
    return float(np.linalg.norm(landmarks_px[10, :2] - landmarks_px[152, :2]))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=Path)
    parser.add_argument("driver")
    parser.add_argument("--frames-out", type=Path)
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--pose-margin-deg", type=float, default=0.0, help="let the head turn/tilt beyond training")
    parser.add_argument("--max-shift-fraction", type=float, default=0.1)
    args = parser.parse_args(argv)
    retarget = RetargetConfig(pose_margin_deg=args.pose_margin_deg, max_shift_fraction=args.max_shift_fraction)
    config = PipelineConfig(GeneratorSessionConfig(args.model, "cpu", 1), retarget=retarget, generator_workers=1)
    stats = PipelineStats("check")
    transforms, driver_transforms, outputs = [], [], []
    with open_stages(config) as stages, open_source(SourceConfig(args.driver)) as source:
        card = stages.card
        track = TrackStep(stages.detector, stats)
        sketch = SketchStep(stages.retargeter, card.size_px, BufferPool(card.size_px), stats)
        render = stages.render_step(stages.session, stats)
        index = 0
        while (image := source.read()) is not None:
            tracked = track(Frame(index, 0.0, image, media_time_s(source, index)))
            sketched = sketch(tracked)
            rendered = render(sketched)
            if sketched.crop_transform is not None:
                transforms.append(sketched.crop_transform)
                driver_transforms.append(crop_transform(tracked.landmarks_px, card.size_px))
            outputs.append(rendered.output_bgr)
            index += 1
        neutral_plate_px = apply_transform(
            invert_transform(np.asarray(card.neutral_transform)), card.neutral_landmarks_px
        )
    heights = []
    with LandmarkDetector(LandmarkConfig(static_image_mode=True)) as detector:
        for image in outputs:
            found = detector.detect(image)
            if found is not None:
                heights.append(face_height_px(found))
    # the stillest stretch of the driver: least motion of its own (unsmoothed) head crop
    motion = [
        transform_jitter_px(driver_transforms[k : k + STILL_WINDOW], card.size_px)
        for k in range(max(1, len(driver_transforms) - STILL_WINDOW))
    ]
    still = int(np.argmin(motion))
    report = {
        "driver": args.driver,
        "frames": len(outputs),
        "output_size_px": [outputs[0].shape[1], outputs[0].shape[0]],
        "faces_found": len(heights),
        "face_height_px_median": round(float(np.median(heights)), 1) if heights else None,
        "target_face_height_px": round(face_height_px(neutral_plate_px), 1),
        "face_height_ratio": round(float(np.median(heights)) / face_height_px(neutral_plate_px), 3)
        if heights
        else None,
        "paste_back_jitter_px_per_frame": round(transform_jitter_px(transforms, card.size_px), 3),
        "still_window_frames": [still, still + STILL_WINDOW],
        "still_paste_back_jitter_px_per_frame": round(
            transform_jitter_px(transforms[still : still + STILL_WINDOW], card.size_px), 3
        ),
        "still_driver_raw_crop_jitter_px_per_frame": round(float(motion[still]), 3),
    }
    print(json.dumps(report, indent=1))
    if args.frames_out:
        args.frames_out.mkdir(parents=True, exist_ok=True)
        for k in range(0, len(outputs), args.every):
            cv2.imwrite(str(args.frames_out / f"{k:04d}.png"), outputs[k])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
