"""Figures of the person's matte (`live run --background transparent --output DIR/`): edge jitter and a strip.

    python tools/matte_figures.py jitter DIR [--frames A:B]
    python tools/matte_figures.py strip DIR DRIVER_VIDEO OUT.jpg --frames 210,527,707,966
    python tools/matte_figures.py cost MODEL CLIP [--seconds 20 --repeats 2]

jitter: between consecutive frames, the area the matte's edge swept (sum of |alpha change| / 255, in px^2)
divided by the length of its edge (the alpha >= 128 outline, leaving out the frame's own border), so the
mean distance the edge moved, in px per frame; printed as mean, median and p95 over the frames, for the whole
person and for its head (the rows above the face's middle).
strip: for each frame, the driver's frame | the output over a checkerboard, one row each.
cost: `live bench`'s sequential loop and paced run (its discarding virtual camera: an output without alpha, so
the transparent runs put the key colour behind the person) with the plate and with a transparent background,
in turns; prints per-stage p50 ms (the matte; the sinks, where the key colour is composited), frames per second
and the paced run's latency and drops.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

CHECKER_PX = 16
STRIP_WIDTH_PX = 960


def read_alpha(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim != 3 or image.shape[2] != 4:
        sys.exit(f"{path}: not a BGRA PNG (render with --background transparent --output DIR/)")
    return image[..., 3]


def edge_length_px(alpha: np.ndarray) -> float:
    """Length of the alpha >= 128 outline, the frame's border left out."""
    inside = (alpha >= 128).astype(np.uint8)
    contours, _ = cv2.findContours(inside, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    height_px, width_px = alpha.shape
    length_px = 0.0
    for contour in contours:
        points = contour[:, 0, :]
        on_border = (points[:, 0] == 0) | (points[:, 1] == 0) | (points[:, 0] == width_px - 1)
        on_border |= points[:, 1] == height_px - 1
        steps = np.linalg.norm(np.diff(np.vstack([points, points[:1]]), axis=0), axis=1)
        length_px += float(steps[~(on_border & np.roll(on_border, -1))].sum())
    return length_px


def jitter_px(previous: np.ndarray, current: np.ndarray) -> float:
    """Mean distance the edge moved between two mattes (module docstring)."""
    swept_px2 = float(np.abs(current.astype(np.int32) - previous.astype(np.int32)).sum()) / 255.0
    return swept_px2 / max(1.0, edge_length_px(current))


def jitter(folder: Path, frames: slice) -> None:
    paths = sorted(folder.glob("*.png"))[frames]
    if len(paths) < 2:
        sys.exit(f"{folder}: fewer than two frames in {frames}")
    mattes = [read_alpha(path) for path in paths]
    head_rows = mattes[0].shape[0] // 2
    for name, crop in (("person", slice(None)), ("head (top half)", slice(0, head_rows))):
        values = np.array([jitter_px(a[crop], b[crop]) for a, b in zip(mattes, mattes[1:])])
        print(
            f"{name}: edge jitter over {len(values)} frame pairs: mean {values.mean():.3f} px/frame, "
            f"median {np.median(values):.3f}, p95 {np.percentile(values, 95):.3f}"
        )


def over_checkerboard(image_bgra: np.ndarray) -> np.ndarray:
    height_px, width_px = image_bgra.shape[:2]
    rows, columns = np.indices((height_px, width_px))
    light = ((rows // CHECKER_PX + columns // CHECKER_PX) % 2).astype(bool)
    checker = np.where(light[..., None], np.uint8(200), np.uint8(120)).repeat(3, axis=2)
    alpha = image_bgra[..., 3:4].astype(np.float32) / 255.0
    return (image_bgra[..., :3] * alpha + checker * (1.0 - alpha) + 0.5).astype(np.uint8)


def driver_frame(video: Path, index: int) -> np.ndarray:
    capture = cv2.VideoCapture(str(video))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        sys.exit(f"{video}: no frame {index}")
    return frame


def strip(folder: Path, video: Path, out: Path, indices: list[int]) -> None:
    rows = []
    for index in indices:
        output = over_checkerboard(cv2.imread(str(folder / f"{index:06d}.png"), cv2.IMREAD_UNCHANGED))
        driver = driver_frame(video, index)
        height_px = output.shape[0]
        driver = cv2.resize(driver, (round(driver.shape[1] * height_px / driver.shape[0]), height_px))
        rows.append(np.hstack([driver, output]))
    picture = np.vstack(rows)
    scale = STRIP_WIDTH_PX / picture.shape[1]
    picture = cv2.resize(picture, (STRIP_WIDTH_PX, round(picture.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    if not cv2.imwrite(str(out), picture, [cv2.IMWRITE_JPEG_QUALITY, 88]):
        sys.exit(f"cannot write {out}")
    print(f"wrote {out} ({len(indices)} rows: driver | output over a checkerboard)")


def cost(model: Path, clip: str, seconds: float, repeats: int) -> None:
    from dataclasses import dataclass, replace

    from live.bench.measure import BenchConfig, run_paced, run_unthrottled
    from live.face.background import Background

    @dataclass(frozen=True, slots=True)
    class BackgroundBench(BenchConfig):
        background: Background = Background()

        def pipeline(self, pace: bool, sequential: bool = False):
            return replace(BenchConfig.pipeline(self, pace, sequential), background=self.background)

    for repeat in range(repeats):
        for kind in ("plate", "transparent"):
            config = BackgroundBench(model, clip, seconds, reference=False, background=Background(kind))
            loop = run_unthrottled(config, sequential=True)
            paced = run_paced(config).report
            stages = "  ".join(
                f"{name} {loop.stage_ms[name].p50_ms:.2f}"
                for name in ("matte", "sinks", "paste_back")
                if name in loop.stage_ms
            )
            print(
                f"{repeat + 1} {kind:11}: sequential {loop.output_fps:.1f} FPS, p50 ms: {stages} | paced "
                f"{paced.output_fps:.1f} FPS, capture to output p50 {paced.latency_ms.p50_ms:.1f} p95 "
                f"{paced.latency_ms.p95_ms:.1f} ms, dropped {paced.dropped_total}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    measure = commands.add_parser("jitter")
    measure.add_argument("folder", type=Path)
    measure.add_argument("--frames", default=":", help="A:B, the frames measured (default all)")
    picture = commands.add_parser("strip")
    picture.add_argument("folder", type=Path)
    picture.add_argument("video", type=Path)
    picture.add_argument("out", type=Path)
    picture.add_argument("--frames", required=True, help="comma-separated frame indices")
    timing = commands.add_parser("cost")
    timing.add_argument("model", type=Path)
    timing.add_argument("clip")
    timing.add_argument("--seconds", type=float, default=20.0, help="each phase's length (default 20)")
    timing.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if args.command == "jitter":
        start, _, stop = args.frames.partition(":")
        jitter(args.folder, slice(int(start) if start else None, int(stop) if stop else None))
    elif args.command == "strip":
        strip(args.folder, args.video, args.out, [int(index) for index in args.frames.split(",")])
    else:
        cost(args.model, args.clip, args.seconds, args.repeats)


if __name__ == "__main__":
    main()
