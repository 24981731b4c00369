"""Cross-reenactment check: drive a model with ANOTHER recording and measure how faithfully it renders.

    python tools/cross_drive.py models/jwp.onnx data/jwp_office.mp4 [--retarget full] [--no-shape-clamp]

Self-reenactment (`live eval`) only shows sketches like the training ones. Here the
sketches come from another face/recording through the retargeter, as in `live run`.
Reported: face-found rate on the outputs, sketch-AKD (mean px distance at model
resolution between MediaPipe landmarks found on the output and the landmarks the sketch
was drawn from: smeared or melted features raise it), and output flicker.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from live.engines.generator import GeneratorSession, GeneratorSessionConfig
from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.face.retarget import RetargetConfig, Retargeter
from live.formats.sketch import draw_sketch


def cross_drive(model: Path, clip: Path, mode: str, shape_clamp: bool, fps: float = 30.0) -> dict:
    """Run the clip through landmarks -> retarget -> sketch -> generator and measure the outputs."""
    capture = cv2.VideoCapture(str(clip))
    distances, found, outputs = [], 0, []
    with (
        GeneratorSession(GeneratorSessionConfig(model, device="cpu")) as session,
        LandmarkDetector(LandmarkConfig()) as tracker,
        LandmarkDetector(LandmarkConfig(static_image_mode=True)) as checker,
        Retargeter(RetargetConfig(mode=mode, shape_clamp=shape_clamp), session.card) as retargeter,
    ):
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            driver = tracker.detect(frame)
            index += 1
            if driver is None:
                continue
            target = retargeter.retarget(driver, frame.shape, index / fps)
            if retargeter.calibrating:
                continue
            output = session.generate(draw_sketch(target, session.card.size_px))
            outputs.append(output.astype(np.float32))
            seen = checker.detect(output)
            if seen is not None:
                found += 1
                distances.append(float(np.linalg.norm(seen[:, :2] - target[:, :2], axis=1).mean()))
    capture.release()
    flicker = float(np.mean([np.abs(b - a).mean() for a, b in zip(outputs, outputs[1:])])) if len(outputs) > 1 else None
    return {
        "model": str(model),
        "clip": str(clip),
        "retarget": mode,
        "shape_clamp": shape_clamp,
        "frames": len(outputs),
        "face_found_rate": round(found / max(1, len(outputs)), 4),
        "sketch_akd_px": round(float(np.mean(distances)), 3) if distances else None,
        "sketch_akd_p95_px": round(float(np.percentile(distances, 95)), 3) if distances else None,
        "flicker_0_255": round(flicker, 3) if flicker else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("clip", type=Path)
    parser.add_argument("--retarget", default="full", choices=("off", "pose", "full"))
    parser.add_argument("--no-shape-clamp", action="store_true")
    args = parser.parse_args()
    print(json.dumps(cross_drive(args.model, args.clip, args.retarget, not args.no_shape_clamp)))


if __name__ == "__main__":
    main()
