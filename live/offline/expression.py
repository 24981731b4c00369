"""How well the avatar follows a driver: `live drive-eval MODEL.onnx CLIP`.

The clip runs through the pipeline's own steps (track -> retarget + sketch ->
render, live.pipeline.steps, unpaced, every frame; the calibration second counts too,
the avatar following it against a provisional neutral). MediaPipe then measures
the same things on the driver, on the retargeted landmarks the sketch was
drawn from, and on the generator's output (live.face.expression):

    correlation: Pearson r, driver vs output, at the best lag within +-MAX_LAG_FRAMES,
        for eye opening, mouth opening, smile, yaw and pitch;
    ceiling: the same, driver vs retargeted landmarks (what the generator was asked
        to draw), with the shape clamp as configured and with it off;
    faces_found: share of outputs on which MediaPipe finds a face;
    jitter_ratio: output landmark motion / driver landmark motion between frames,
        each in its own face sizes (> 1: the avatar trembles more than the driver);
    outside_training: share of frames the retargeter flagged as outside the avatar's training range;
    teeth: the share of the open mouth showing teeth (live.face.teeth), driver vs output: Pearson r at the
        best lag, and the output's mean share on the frames where the driver shows teeth and where he does not;
    corner_lift: how the mouth corners rise with the driver's (live.offline.corner_figures): r and reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from rich.table import Table
from rich.text import Text

from live.engines.generator import GeneratorSessionConfig
from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.face.coverage import TEETH_SHOWING
from live.face.expression import MEASURE_NAMES, measure_series
from live.face.eye_warp import EyeResponse
from live.face.mouth_response import MouthResponse
from live.face.pose import STABLE_POINT_INDICES
from live.face.retarget import RetargetConfig, Retargeter
from live.face.teeth import teeth_share
from live.formats.card import ModelCard
from live.io.calibration_file import CalibrationFile
from live.io.sources import SourceConfig, VideoFileSource, media_time_s
from live.offline.corner_figures import lift_series, reach
from live.offline.drive_strip import face_tile
from live.offline.image_metrics import face_laplacian_variance
from live.pipeline.messages import Frame
from live.pipeline.run import PipelineConfig, open_stages
from live.pipeline.stats import PipelineStats
from live.pipeline.steps import BufferPool, SketchStep, TrackStep
from live.progress import bar

MAX_LAG_FRAMES = 3
CORNER_KEYS = ("correlation", "reach")


@dataclass(frozen=True, slots=True)
class DriveConfig:
    """model_path: ONNX model; clip: the driving video; retarget: as `live run --retarget`; eye_warp,
    head_follow and corner_warp: as `live run` (False: `--no-eye-warp`, `--no-head-follow`, `--no-corner-warp`)."""

    model_path: Path
    clip: Path
    retarget: RetargetConfig = RetargetConfig()
    device: str = "cpu"
    eye_warp: bool = True
    head_follow: bool = True
    eye_response: EyeResponse | None = None  # instead of the card's (when fitting one)
    mouth_response: MouthResponse | None = None  # likewise
    corner_warp: bool = True


@dataclass(slots=True)
class DriveRecord:
    """Per frame of the clip: the driver's landmarks, the retargeted ones and those found on the output."""

    driver: list[np.ndarray | None]
    target: list[np.ndarray | None]
    output: list[np.ndarray | None]
    frame_times_s: list[float]
    outside_share: float
    output_bgr: list[np.ndarray]  # with keep_images: a face tile of each output (face_tile)
    frames_bgr: list[np.ndarray]  # and of each driver frame
    frame_shape: tuple[int, ...] = ()
    card: ModelCard | None = None
    driver_teeth: list[float] = field(default_factory=list)  # NaN where that face is missing
    output_teeth: list[float] = field(default_factory=list)
    output_detail: list[float] = field(default_factory=list)  # face-box Laplacian variance; NaN: no face


def drive(config: DriveConfig, keep_images: bool = False) -> DriveRecord:
    """Run every frame of the clip through the pipeline's steps and find the face on each output."""
    generator = GeneratorSessionConfig(config.model_path, config.device)
    pipeline = PipelineConfig(  # one frame at a time
        generator,
        retarget=config.retarget,
        generator_workers=1,
        eye_warp=config.eye_warp,
        head_follow=config.head_follow,
        eye_response=config.eye_response,
        mouth_response=config.mouth_response,
        corner_warp=config.corner_warp,
    )
    record = DriveRecord([], [], [], [], 0.0, [], [])
    stats = PipelineStats("drive-eval")
    with (
        open_stages(pipeline) as stages,
        VideoFileSource(SourceConfig(str(config.clip))) as source,
        LandmarkDetector(LandmarkConfig(static_image_mode=True)) as checker,
        bar() as progress,
    ):
        task = progress.add_task(f"drive {source.name}", total=source.frame_count or None)
        pool = BufferPool(stages.card.size_px)
        track = TrackStep(stages.detector, stats)
        sketch = SketchStep(stages.retargeter, stages.card.size_px, pool, stats, body=stages.body_follower)
        render = stages.render_step(stages.session, stats)
        index = 0
        image_bgr_shape = (source.size_px[1], source.size_px[0], 3)
        while (image_bgr := source.read()) is not None:
            sketched = sketch(track(Frame(index, 0.0, image_bgr, media_time_s(source, index))))
            rendered = render(sketched)
            # Every tracked frame counts, those of the calibration too: the avatar follows the driver from its
            # first frame (against a provisional neutral, live.face.calibration), as a viewer sees it.
            driven = sketched.target_landmarks_px is not None
            record.driver.append(sketched.landmarks_px)
            record.target.append(sketched.target_landmarks_px)
            record.output.append(checker.detect(rendered.output_bgr) if driven else None)
            record.driver_teeth.append(_teeth(image_bgr, sketched.landmarks_px if driven else None))
            record.output_teeth.append(_teeth(rendered.output_bgr, record.output[-1]))
            record.output_detail.append(face_laplacian_variance(rendered.output_bgr, record.output[-1]))
            record.frame_times_s.append(sketched.frame.t_stream_s)
            if keep_images:
                record.frames_bgr.append(face_tile(image_bgr, sketched.landmarks_px))
                record.output_bgr.append(face_tile(rendered.output_bgr, record.output[-1]))
            pool.release(sketched.sketch_bgr)
            index += 1
            progress.update(task, completed=index)
        record.frame_shape, record.card = tuple(image_bgr_shape), stages.card
        record.outside_share = stages.retargeter.frames_outside_training / max(1, stages.retargeter.frames_retargeted)
    return record


def _teeth(image_bgr: np.ndarray, landmarks_px: np.ndarray | None) -> float:
    return float("nan") if landmarks_px is None else teeth_share(image_bgr, landmarks_px)


def teeth_figures(record: DriveRecord) -> dict[str, float | None]:
    """Driver vs output teeth share: best-lag r, and the output's mean share where the driver shows teeth / not."""
    driver, output = np.array(record.driver_teeth), np.array(record.output_teeth)
    both = np.isfinite(driver) & np.isfinite(output)
    showing = both & (driver > TEETH_SHOWING)
    hidden = both & (driver <= TEETH_SHOWING)
    return {
        "correlation": _rounded(best_lag_correlation(driver, output)),
        "driver_frames_showing": _rounded(float(showing.sum() / max(1, both.sum()))),
        "output_share_driver_showing": _rounded(float(output[showing].mean())) if showing.any() else None,
        "output_share_driver_not": _rounded(float(output[hidden].mean())) if hidden.any() else None,
    }


def retarget_only(record: DriveRecord, config: RetargetConfig) -> list[np.ndarray | None]:
    """The retargeted landmarks of the recorded driver frames under another retarget config (no generator)."""
    targets: list[np.ndarray | None] = []
    with Retargeter(config, record.card) as retargeter:
        CalibrationFile(config.calibration_path).load_into(retargeter)
        for landmarks, t_s in zip(record.driver, record.frame_times_s):
            if landmarks is None:
                retargeter.no_face()
                targets.append(None)
                continue
            target = retargeter.retarget(landmarks, record.frame_shape, t_s)
            targets.append(target)
    return targets


def best_lag_correlation(driver: np.ndarray, output: np.ndarray, max_lag: int = MAX_LAG_FRAMES) -> float | None:
    """The largest Pearson r of driver[t] vs output[t + lag] over |lag| <= max_lag (NaN frames skipped)."""
    best = None
    for lag in range(-max_lag, max_lag + 1):
        a = driver[max(0, -lag) : len(driver) - max(0, lag)]
        b = output[max(0, lag) : len(output) - max(0, -lag)]
        valid = np.isfinite(a) & np.isfinite(b)
        if valid.sum() < 5 or np.std(a[valid]) < 1e-12 or np.std(b[valid]) < 1e-12:
            continue
        r = float(np.corrcoef(a[valid], b[valid])[0, 1])
        best = r if best is None or r > best else best
    return best


def correlations(driver: list[np.ndarray | None], other: list[np.ndarray | None]) -> dict[str, float | None]:
    """Best-lag correlation of every measure, driver vs other; only frames where the other has a face count."""
    driver_series = measure_series([d if o is not None else None for d, o in zip(driver, other)])
    other_series = measure_series(other)
    return {name: _rounded(best_lag_correlation(driver_series[name], other_series[name])) for name in MEASURE_NAMES}


def _motion(faces: list[np.ndarray | None]) -> list[float | None]:
    """Per frame pair: mean landmark displacement in face sizes (None unless both frames have a face)."""
    motions: list[float | None] = []
    for before, after in zip(faces, faces[1:]):
        if before is None or after is None:
            motions.append(None)
            continue
        stable = before[STABLE_POINT_INDICES, :2]
        size = float(np.sqrt(((stable - stable.mean(axis=0)) ** 2).sum(axis=1).mean()))
        motions.append(float(np.linalg.norm(after[:, :2] - before[:, :2], axis=1).mean()) / max(size, 1e-9))
    return motions


def jitter_ratio(driver: list[np.ndarray | None], output: list[np.ndarray | None]) -> float | None:
    """Mean output motion / mean driver motion, over the frame pairs where both have faces."""
    pairs = [(d, o) for d, o in zip(_motion(driver), _motion(output)) if d is not None and o is not None]
    if not pairs:
        return None
    driver_motion = float(np.mean([d for d, _ in pairs]))
    return _rounded(float(np.mean([o for _, o in pairs])) / max(driver_motion, 1e-12))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def evaluate_drive(config: DriveConfig, record: DriveRecord | None = None) -> dict:
    """Every figure of the module docstring for one driver clip, JSON-ready."""
    record = record or drive(config)
    other_clamp = replace(config.retarget, shape_clamp=not config.retarget.shape_clamp)
    other_targets = retarget_only(record, other_clamp) if config.retarget.mode != "off" else record.target
    rendered = [target is not None for target in record.target]
    found = [face is not None for face in record.output]
    clamp_key = "ceiling_clamp_" + ("on" if config.retarget.shape_clamp else "off")
    other_key = "ceiling_clamp_" + ("off" if config.retarget.shape_clamp else "on")
    return {
        "model": str(config.model_path),
        "driver": str(config.clip),
        "retarget": config.retarget.mode,
        "shape_clamp": config.retarget.shape_clamp,
        "calibration": config.retarget.calibration_path or "the clip's first tracked frames",
        "frames": len(record.driver),
        "frames_rendered": int(sum(rendered)),
        "correlation": correlations(record.driver, record.output),
        clamp_key: correlations(record.driver, record.target),
        other_key: correlations(record.driver, other_targets),
        "faces_found": _rounded(sum(found) / max(1, sum(rendered))),
        "jitter_ratio": jitter_ratio(record.driver, record.output),
        "outside_training": _rounded(record.outside_share),
        "teeth": teeth_figures(record),
        "corner_lift": corner_figures(record),
    }


def corner_figures(record: DriveRecord) -> dict[str, float | None]:
    """Lift r and reach of the mouth corners, driver vs output (live.offline.corner_figures)."""
    card = record.card
    series = None if card is None else lift_series(record.driver, record.output, card.neutral_landmarks_px)
    if series is None:
        return dict.fromkeys(CORNER_KEYS)
    return {"correlation": _rounded(best_lag_correlation(*series)), "reach": _rounded(reach(*series))}


def drive_table(reports: list[dict]) -> Table:
    """One row per driver: output correlations (ceiling with the clamp on / off in brackets) and the rest."""
    table = Table(title="driver vs output (Pearson r at the best lag within +-3 frames)")
    table.add_column("driver")
    for name in MEASURE_NAMES:
        table.add_column(name + " r", justify="right")
    for name in ("teeth r", "lift r", "lift reach", "faces found", "jitter", "outside"):
        table.add_column(name, justify="right")
    for report in reports:
        cells: list[str | Text] = [Text(Path(report["driver"]).name)]  # a file name, never markup
        for name in MEASURE_NAMES:
            on, off = (report.get(f"ceiling_clamp_{state}", {}).get(name) for state in ("on", "off"))
            ceiling = f"{_text(on)}/{_text(off)}"
            cells.append(f"{_text(report['correlation'][name])} ({ceiling})")
        cells.append(_text(report.get("teeth", {}).get("correlation")))
        cells += [_text(report.get("corner_lift", {}).get(key)) for key in CORNER_KEYS]
        cells += [_text(report["faces_found"]), _text(report["jitter_ratio"]), _text(report["outside_training"])]
        table.add_row(*cells)
    table.caption = "brackets: driver vs retargeted landmarks, shape clamp on/off (the ceiling)"
    return table


def _text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def median_report(reports: list[dict]) -> dict:
    """A report-shaped row holding the median of every figure over the drivers (None where none has it)."""

    def median(values: list) -> float | None:
        present = [value for value in values if value is not None]
        return _rounded(float(np.median(present))) if present else None

    row: dict = {"driver": "median", "frames": sum(report["frames"] for report in reports)}
    for key in ("correlation", "ceiling_clamp_on", "ceiling_clamp_off"):
        row[key] = {name: median([report.get(key, {}).get(name) for report in reports]) for name in MEASURE_NAMES}
    for key in ("faces_found", "jitter_ratio", "outside_training"):
        row[key] = median([report[key] for report in reports])
    teeth_keys = ("correlation", "driver_frames_showing", "output_share_driver_showing", "output_share_driver_not")
    for group, keys in (("teeth", teeth_keys), ("corner_lift", CORNER_KEYS)):
        row[group] = {key: median([report.get(group, {}).get(key) for report in reports]) for key in keys}
    return row
