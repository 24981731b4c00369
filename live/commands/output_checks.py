"""`live run`'s paths and outputs: checked before anything is opened, then opened with the files last.

A usage error found only on opening (no virtual camera, a port in use) thus stops the run before any
file is touched; and a recording is written beside its file and renamed over it once it holds a frame
(live.io.video_writer), so an existing file survives any run that stops before that.
"""

from __future__ import annotations

import dataclasses
import os
from contextlib import ExitStack
from pathlib import Path

from live.errors import UsageError
from live.face.alignment import HeadTemplate
from live.face.background import Background, format_color
from live.formats.card import ModelCard
from live.io.frame_folder import check_frame_folder
from live.io.sinks import SinkConfig, display_problem, open_sink
from live.io.video_writer import check_video_path
from live.pipeline.presenter import Output
from live.pipeline.stats import PipelineReport

WRITTEN_KINDS = ("file", "frames")  # outputs that write a path: opened after every other output
MAX_PORT = 65535


def is_same_file(first: Path, second: Path) -> bool:
    """True when two paths name the same file or folder (through symlinks, ./ forms or hard links)."""
    if os.path.realpath(first) == os.path.realpath(second):
        return True
    return first.exists() and second.exists() and os.path.samefile(first, second)


def run_paths(source_text: str | None, configs: list[SinkConfig], calibration: str | None) -> list[tuple[str, Path]]:
    """(option, path) for each path a run reads or writes: the source (None: a camera), outputs, calibration."""
    paths = [] if source_text is None else [("--source", Path(source_text))]
    paths += [("--output", config.path) for config in configs if config.kind in WRITTEN_KINDS and config.path]
    return paths + ([] if calibration is None else [("--calibration", Path(calibration))])


def check_distinct_paths(paths: list[tuple[str, Path]]) -> None:
    """Refuse, before anything is opened, two of the run's paths that name one file: writing one would
    destroy or corrupt the other."""
    for index, (first_option, first) in enumerate(paths):
        for second_option, second in paths[index + 1 :]:
            if not is_same_file(first, second):
                continue
            if first_option == "--source":
                raise UsageError(
                    f"{second_option} {second} is the --source {first}: writing it would destroy the input;"
                    " name another file"
                )
            raise UsageError(
                f"{second_option} {second} is the same file as {first_option} {first}: one would overwrite the"
                " other; name another file"
            )


def check_outputs(configs: list[SinkConfig]) -> None:
    """The usage errors each output can show before anything is opened (UsageError, exit 2)."""
    for config in configs:
        if config.kind == "window" and (problem := display_problem()):
            raise UsageError(problem)
        if config.kind == "file" and config.path is not None:
            check_video_path(config.path)
        if config.kind == "frames" and config.path is not None:
            check_frame_folder(config.path)
        if config.kind == "web" and not 0 <= config.web.port <= MAX_PORT:
            raise UsageError(f"--web-port {config.web.port}: give a TCP port from 1 to {MAX_PORT} (0: any free one)")


def check_model_template(card: ModelCard) -> None:
    """UsageError, before any output is opened, when the model's head template does not fit this version."""
    if card.template:
        HeadTemplate.from_dict(card.template)


def open_outputs(stack: ExitStack, configs: list[SinkConfig], frame_size_px: tuple[int, int]) -> list[Output]:
    """Open every sink for the avatar's frames, (width, height), those writing files last; in the given order
    (closed by the pipeline, and by `stack` if the run never starts)."""
    order = sorted(range(len(configs)), key=lambda index: configs[index].kind in WRITTEN_KINDS)
    outputs: dict[int, Output] = {}
    for index in order:
        config = configs[index]
        sink = open_sink(config, frame_size_px)
        stack.callback(sink.close)
        outputs[index] = Output(
            sink,
            keep_alive=config.kind == "vcam",
            preview=config.kind == "window",
            capture_times=config.kind == "web",
            alpha=bool(getattr(sink, "keeps_alpha", False)),
        )
    return [outputs[index] for index in range(len(configs))]


def output_name(config: SinkConfig) -> str:
    """An output as `--output` names it."""
    if config.kind == "frames":
        return f"{config.path}/"
    return str(config.path) if config.kind == "file" else config.kind


def key_color_note(background: Background, outputs: list[Output], configs: list[SinkConfig]) -> str | None:
    """One line naming the outputs that get the key colour behind the person (no alpha) when the background is
    transparent; None otherwise."""
    keyed = [output_name(config) for output, config in zip(outputs, configs, strict=True) if not output.alpha]
    if background.kind != "transparent" or not keyed:
        return None
    names = ", ".join(keyed)
    have = "has" if len(keyed) == 1 else "have"
    return (
        f"--background transparent: {names} {have} no alpha, so the person is on key colour"
        f" {format_color(background.key_color_bgr)} there (--key-color; .webm, PNG folders and web keep alpha)"
    )


def report_of_saved_frames(report: PipelineReport, outputs: list[Output]) -> PipelineReport:
    """The report, claiming no more frames written than a recording that failed holds (with a note)."""
    failed = [output.sink for output in outputs if getattr(output.sink, "failure", None)]
    if not failed:
        return report
    notes = tuple(f"{sink.path} holds only the first {sink.frames_saved} frames: {sink.failure}" for sink in failed)
    written = min([report.frames_written] + [sink.frames_saved for sink in failed])
    return dataclasses.replace(report, frames_written=written, notes=report.notes + notes)


def pace_warning(report: PipelineReport, configs: list[SinkConfig], paced: bool, source_kind: str) -> str | None:
    """A warning when a paced run from a video file or image folder to files only dropped frames: the files
    then play faster than the source. None otherwise."""
    files_only = all(config.kind in WRITTEN_KINDS for config in configs)
    if not (paced and files_only and source_kind in ("video", "folder") and report.dropped_total):
        return None
    names = ", ".join(f"{config.path}/" if config.kind == "frames" else str(config.path) for config in configs)
    plays = "plays" if len(configs) == 1 else "play"
    return (
        f"live run: warning: {report.dropped_total} frame(s) dropped to keep up with the source in real time, so"
        f" {names} {plays} faster than the source; add --no-pace to render every frame"
    )
