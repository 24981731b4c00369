"""The web output over other pictures, as OBS shows it: `--background transparent --output web` in a real
headless Chromium (tests/headless_browser.py), the page's background set to a test colour and to a game-like
picture, DevTools screenshots. Shared by tests/test_web_alpha.py; run alone it makes the README's strip:

    python tools/web_overlay_strip.py MODEL CLIP OUT.jpg

The strip: the plate render of the frame on screen | the page over magenta | the page over a game-like picture.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from headless_browser import HeadlessChromium

from live.face.background import Background, composite
from live.io.sinks import SinkConfig, open_sink
from live.io.sources import SourceConfig, open_source
from live.io.web_sink import WebConfig
from live.pipeline.presenter import Output
from live.pipeline.run import PipelineConfig, Stages, run_pipeline

TEST_COLOR_BGR = (255, 0, 255)  # magenta: in no face
BROWSER_TIMEOUT_S = 60.0
FRAMES_BEFORE_SHOT = 20
STRIP_HEIGHT_PX = 360


class FrameProbe:
    """A sink (with alpha) keeping the last BGRA frames it was given: what the page should be showing."""

    name = "probe"

    def __init__(self) -> None:
        self.frames: deque[np.ndarray] = deque(maxlen=90)

    def write(self, image: np.ndarray) -> None:
        self.frames.append(image.copy())

    def close(self) -> None:
        """Nothing to release."""


@dataclass(frozen=True, slots=True)
class OverlayShots:
    """The frame the page held (BGRA, as sent: colour = the plate render, alpha = the matte), the page's
    screenshots over the test colour and over the game-like picture, and the picture."""

    sent_bgra: np.ndarray
    over_color_bgr: np.ndarray
    over_picture_bgr: np.ndarray
    picture_bgr: np.ndarray
    composited_frames: int
    video_width_px: int


def game_picture(size_px: tuple[int, int]) -> np.ndarray:
    """A game-like picture: a sky, hills, a sun and a score bar (drawn, so the test needs no file)."""
    width_px, height_px = size_px
    rows = np.linspace(0.0, 1.0, height_px)[:, None, None]
    picture = ((1 - rows) * np.array([235, 170, 60]) + rows * np.array([250, 220, 150])).astype(np.uint8)
    picture = np.ascontiguousarray(np.broadcast_to(picture, (height_px, width_px, 3)))
    cv2.circle(picture, (width_px * 4 // 5, height_px // 5), height_px // 10, (80, 220, 255), cv2.FILLED)
    xs = np.arange(width_px)
    for level, color in ((0.55, (90, 160, 70)), (0.7, (40, 110, 40))):
        ridge = (height_px * (level + 0.06 * np.sin(xs / width_px * 9 + level * 7))).astype(int)
        for x, top in zip(xs, ridge, strict=True):
            picture[top:, x] = color
    cv2.rectangle(picture, (8, 8), (width_px // 3, 30), (30, 30, 30), cv2.FILLED)
    cv2.rectangle(picture, (12, 12), (width_px // 4, 26), (60, 60, 230), cv2.FILLED)
    return picture


def devtools(browser: HeadlessChromium, method: str, params: dict[str, object]) -> dict[str, object]:
    """A DevTools call on the browser's page; its result."""

    async def call() -> dict[str, object]:
        browser._message_id += 1
        await browser._socket.send_str(json.dumps({"id": browser._message_id, "method": method, "params": params}))
        while True:
            reply = json.loads((await browser._socket.receive()).data)
            if reply.get("id") == browser._message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    return browser._loop.run_until_complete(asyncio.wait_for(call(), BROWSER_TIMEOUT_S))


def screenshot_bgr(browser: HeadlessChromium, size_px: tuple[int, int]) -> np.ndarray:
    """Page.captureScreenshot of the page's top-left size_px (the canvas)."""
    clip = {"x": 0, "y": 0, "width": size_px[0], "height": size_px[1], "scale": 1}
    result = devtools(browser, "Page.captureScreenshot", {"format": "png", "clip": clip})
    png = np.frombuffer(base64.b64decode(str(result["data"])), dtype=np.uint8)
    return cv2.imdecode(png, cv2.IMREAD_COLOR)


def over(frame_bgra: np.ndarray, behind_bgr: np.ndarray) -> np.ndarray:
    """A BGRA frame over a picture."""
    return composite(np.ascontiguousarray(frame_bgra[:, :, :3]), np.ascontiguousarray(frame_bgra[:, :, 3]), behind_bgr)


def held_frame(probe: FrameProbe, shot_bgr: np.ndarray, behind_bgr: np.ndarray) -> np.ndarray:
    """The sent frame the screenshot shows: the one that, over the same background, is nearest to it."""
    frames = list(probe.frames)
    errors = [np.mean(np.abs(over(frame, behind_bgr).astype(np.int16) - shot_bgr)) for frame in frames]
    return frames[int(np.argmin(errors))]


def shoot(browser: HeadlessChromium, probe: FrameProbe, size_px: tuple[int, int]) -> OverlayShots:
    """Once the page composited FRAMES_BEFORE_SHOT frames: hold its canvas (pause the video), screenshot it over
    the test colour, then over the game-like picture."""
    devtools(
        browser,
        "Emulation.setDeviceMetricsOverride",
        {"width": size_px[0], "height": size_px[1], "deviceScaleFactor": 1, "mobile": False},
    )
    browser.wait_for(f"window.liveViewer && window.liveViewer.composited >= {FRAMES_BEFORE_SHOT}", BROWSER_TIMEOUT_S)
    composited = browser.evaluate(
        """new Promise((resolve) => { const video = document.getElementById("video");
        video.requestVideoFrameCallback(() => setTimeout(() => {
          video.pause(); resolve(window.liveViewer.composited); }, 0)); })"""
    )
    video_width_px = browser.evaluate("document.getElementById('video').videoWidth")
    color_bgr = np.full((size_px[1], size_px[0], 3), TEST_COLOR_BGR, dtype=np.uint8)
    over_color_bgr = screenshot_bgr(browser, size_px)
    picture_bgr = game_picture(size_px)
    data_url = "data:image/png;base64," + base64.b64encode(cv2.imencode(".png", picture_bgr)[1].tobytes()).decode()
    browser.evaluate(f"document.body.style.background = 'url({data_url}) 0 0 / {size_px[0]}px {size_px[1]}px'")
    over_picture_bgr = screenshot_bgr(browser, size_px)
    sent = held_frame(probe, over_color_bgr, color_bgr)
    return OverlayShots(sent, over_color_bgr, over_picture_bgr, picture_bgr, int(composited), int(video_width_px))


def capture(stages: Stages, config: PipelineConfig, clip: Path) -> OverlayShots:
    """Run the pipeline on `clip` with a transparent background to a probe and the web output, watched by a
    headless Chromium whose page background is the test colour; the shots (see shoot). The stages are opened
    with `config`, whose background is transparent."""
    if config.background.kind != "transparent":
        raise ValueError("open the stages with a transparent background")
    size_px = (int(stages.card.plate_size_px[0]), int(stages.card.plate_size_px[1]))
    probe = FrameProbe()
    sink = open_sink(SinkConfig("web", web=WebConfig(port=0), alpha=True), size_px)
    outputs = [Output(probe, alpha=True), Output(sink, capture_times=True, alpha=sink.keeps_alpha)]
    source = open_source(SourceConfig(str(clip)))
    run = threading.Thread(target=run_pipeline, args=(config, source, outputs, stages))
    with HeadlessChromium(sink.url + "?background=magenta") as browser:
        if not sink.wait_for_viewer(BROWSER_TIMEOUT_S):
            raise RuntimeError("the page did not connect")
        run.start()
        try:
            return shoot(browser, probe, size_px)
        finally:
            run.join(BROWSER_TIMEOUT_S)


def strip(shots: OverlayShots) -> np.ndarray:
    """plate render | over magenta | over the game-like picture, STRIP_HEIGHT_PX high."""
    panels = [np.ascontiguousarray(shots.sent_bgra[:, :, :3]), shots.over_color_bgr, shots.over_picture_bgr]
    height_px, width_px = panels[0].shape[:2]
    size_px = (round(width_px * STRIP_HEIGHT_PX / height_px), STRIP_HEIGHT_PX)
    gap = np.full((STRIP_HEIGHT_PX, 6, 3), 255, dtype=np.uint8)
    resized = [cv2.resize(panel, size_px, interpolation=cv2.INTER_AREA) for panel in panels]
    return np.hstack([resized[0], gap, resized[1], gap, resized[2]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("clip", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    from live.engines.generator import GeneratorSessionConfig
    from live.pipeline.run import open_stages

    config = PipelineConfig(
        generator=GeneratorSessionConfig(args.model, device="cpu"), background=Background("transparent")
    )
    with open_stages(config) as stages:
        shots = capture(stages, config, args.clip)
    if not cv2.imwrite(str(args.out), strip(shots), [cv2.IMWRITE_JPEG_QUALITY, 88]):
        raise SystemExit(f"could not write {args.out}")
    print(f"wrote {args.out} ({shots.composited_frames} frames composited, video {shots.video_width_px} px wide)")


if __name__ == "__main__":
    main()
