"""What the head crop's resolution alone allows: the real validation frames cut to the crop and pasted back
(a perfect generator), scored like `live eval` at the target's own size; and the same for v1's fixed crop.

Usage: python tools/crop_ceiling.py DATASET [--sizes 256 512] [--v1-crop X Y SIDE]
(v1, the format-1 default avatar: a 394 px square at x 70, y 0 of jwp_intro, rendered at 256 px)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from live.face.alignment import apply_transform, invert_transform
from live.formats.dataset import load_dataset
from live.formats.sketch import face_mask
from live.offline.image_metrics import PSNR_CAP_DB, psnr_db, ssim
from live.pipeline.paste_back import PasteBack


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--v1-crop", type=int, nargs=3, default=[70, 0, 394])
    args = parser.parse_args(argv)
    dataset = load_dataset(args.dataset)
    scores: dict[str, list] = {f"{size} px head crop": [] for size in args.sizes} | {"v1 fixed crop at 256 px": []}
    x, y, side = args.v1_crop
    for index in dataset.indices("val"):
        real = dataset.native_frame(index)
        landmarks = apply_transform(invert_transform(dataset.transforms[index]), dataset.landmarks_px[index])
        mask = face_mask(landmarks, max(real.shape[:2]))[: real.shape[0], : real.shape[1]]
        outputs = {}
        for size in args.sizes:
            transform = dataset.transforms[index] * (size / dataset.size_px)
            paste = PasteBack(real, size)
            crop = paste.plate_crop(transform)
            outputs[f"{size} px head crop"] = paste.paste(crop, crop, transform)
        v1 = real.copy()
        small = cv2.resize(real[y : y + side, x : x + side], (256, 256), interpolation=cv2.INTER_AREA)
        v1[y : y + side, x : x + side] = cv2.resize(small, (side, side), interpolation=cv2.INTER_LINEAR)
        outputs["v1 fixed crop at 256 px"] = v1
        for name, output in outputs.items():
            scores[name].append((psnr_db(real, output), psnr_db(real, output, mask), ssim(real, output, mask)))
    for name, values in scores.items():
        frame, face, face_ssim = np.minimum(np.array(values), [PSNR_CAP_DB, PSNR_CAP_DB, 1.0]).mean(axis=0)
        print(f"{name}: frame PSNR {frame:.2f} dB, face PSNR {face:.2f} dB, face SSIM {face_ssim:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
