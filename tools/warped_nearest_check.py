"""How far real pixels go without a network: each held-out frame replaced by its nearest training frame (by
landmarks, `live eval`'s baseline), pasted as it is and moved onto the held-out frame's landmarks by a
piecewise-affine mesh warp (live.face.mesh_warp), scored like `live eval` (face PSNR and SSIM in the real face
oval, detail ratio and GMSD on the face box).

Usage: python tools/warped_nearest_check.py DATASET [--strip OUT.png] [--exclude-neighbours N] [--generator DIR ...]

--generator DIR: also score a generator trained by live.training.warped_reference (OUT folders), given each
held-out frame's own sketch, plate crop and (for the warped kind) the mesh-warped nearest frame.

--exclude-neighbours N: also score with the nearest frame chosen among the training frames at least N frames
away from the held-out one in time (the held-out frames follow the training frames of their video: N removes
the last N training frames, which can be near copies).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from live.face.mesh_warp import MeshWarp
from live.formats.dataset import Dataset, load_dataset
from live.offline.evaluate import native_face_mask
from live.offline.image_metrics import detail_metrics, nearest_landmark_frames, psnr_db, ssim
from live.pipeline.paste_back import PasteBack


def score(dataset: Dataset, indices: np.ndarray, crops: list[np.ndarray]) -> tuple[dict, list[np.ndarray]]:
    """live eval's face figures of the crops pasted at the held-out frames' transforms; the pasted frames."""
    reals, outputs, masks = [], [], []
    pastes = [PasteBack(plate, dataset.size_px) for plate in dataset.plates_bgr]
    for index, crop in zip(indices, crops):
        paste = pastes[int(dataset.video_indices[index])]
        transform = dataset.transforms[index]
        outputs.append(paste.paste(crop, paste.plate_crop(transform), transform))
        reals.append(dataset.native_frame(int(index)))
        masks.append(native_face_mask(dataset, int(index)))
    figures = {
        "psnr_db_face": float(np.mean([psnr_db(r, o, m) for r, o, m in zip(reals, outputs, masks)])),
        "ssim_face": float(np.mean([ssim(r, o, m) for r, o, m in zip(reals, outputs, masks)])),
        **detail_metrics(np.array(reals), np.array(outputs), masks),
    }
    return figures, outputs


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--strip", type=Path, default=None)
    parser.add_argument("--exclude-neighbours", type=int, default=0)
    parser.add_argument("--generator", type=Path, nargs="*", default=[])
    args = parser.parse_args(argv)
    dataset = load_dataset(args.dataset)
    held_out, train = dataset.indices("val"), dataset.indices("train")
    candidates = train[: len(train) - args.exclude_neighbours] if args.exclude_neighbours else train
    nearest = candidates[nearest_landmark_frames(dataset.landmarks_px[held_out], dataset.landmarks_px[candidates])]
    plain = [dataset.images_bgr[j] for j in nearest]
    warped = [
        MeshWarp(dataset.landmarks_px[j], dataset.size_px).warp(dataset.images_bgr[j], dataset.landmarks_px[i])
        for i, j in zip(held_out, nearest)
    ]
    candidates_rows = [("nearest frame", plain), ("nearest frame, mesh-warped", warped)]
    for folder in args.generator:
        from live.training.warped_reference import generate, load_generator

        kind, generator = load_generator(folder)
        plates = np.stack([dataset.plate_crop(int(i)) for i in held_out])
        crops = generate(generator, dataset.sketches_bgr[held_out], plates, np.stack(warped))
        candidates_rows.append((f"{kind} generator {folder}", list(crops)))
    rows = []
    for name, crops in candidates_rows:
        figures, outputs = score(dataset, held_out, crops)
        rows.append(outputs)
        text = ", ".join(f"{key} {value:.4g}" for key, value in figures.items() if value is not None)
        print(f"{name} ({len(held_out)} frames, excluding {args.exclude_neighbours} neighbours): {text}")
    if args.strip is not None:
        picks = np.linspace(0, len(held_out) - 1, 4).astype(int)
        tiles = []
        for k in picks:
            real = dataset.native_frame(int(held_out[k]))
            rows_k = [real, *(row[k] for row in rows)]
            mask = native_face_mask(dataset, int(held_out[k]))
            ys, xs = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
            y0, y1, x0, x1 = ys[0] - 20, ys[-1] + 20, xs[0] - 20, xs[-1] + 20
            tiles.append(
                np.hstack([cv2.resize(image[max(y0, 0) : y1, max(x0, 0) : x1], (240, 300)) for image in rows_k])
            )
        cv2.imwrite(str(args.strip), np.vstack(tiles))
        print(f"strip (real | {' | '.join(name for name, _ in candidates_rows)}): {args.strip}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
