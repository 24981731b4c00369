"""`live record`'s checks before anything opens, and the lines of its end screen."""

from __future__ import annotations

import os
from pathlib import Path

from live.errors import UsageError
from live.formats.consent import check_consent
from live.formats.dataset import check_crop_size
from live.formats.sidecar import RecordingSidecar, sidecar_path
from live.io.sinks import display_problem
from live.io.video_writer import check_video_path


def check_record_paths(config) -> str:
    """The checked consent statement; UsageError (one line) for a bad consent, output, size or count.
    `config`: a live.ui.record_session.RecordConfig."""
    consent = check_consent(config.consent)
    out = Path(config.out)
    check_video_path(out)
    if out.exists() and not config.overwrite:
        raise UsageError(f"{out} exists: name another file, or add --overwrite to replace it")
    source = Path(config.source)
    if not config.source.isdigit() and source.exists() and os.path.realpath(source) == os.path.realpath(out):
        raise UsageError(f"--source and --out both name {out}: record into another file")
    check_crop_size(config.size_px)
    if config.max_frames < 0:
        raise UsageError(f"--max-frames {config.max_frames}: give 0 (the whole script) or a positive count")
    if not 0 <= config.end_screen_s <= 3600:
        raise UsageError(f"--end-screen {config.end_screen_s:g}: give 0 to 3600 seconds")
    return consent


def display_error() -> str | None:
    """Why the recording window cannot open here, as the one line to print; None when it can."""
    problem = display_problem()
    if problem is None:
        return None
    reason = problem.split(": use ")[0]
    return f"the recording window cannot open ({reason}): run live record on a desktop, or add --no-window"


def end_lines(out: Path, sidecar: RecordingSidecar, stopped: str) -> list[str]:
    """The end screen (and the log's last lines): what was saved, why it stopped early, what is still
    missing by `live prepare`'s coverage rule, and the bad conditions seen."""
    seconds = round(sidecar.frames / sidecar.fps)
    lines = [
        f"saved {out}: {sidecar.frames} frames ({seconds // 60}:{seconds % 60:02d} at {sidecar.fps:.1f} fps) "
        f"and {sidecar_path(out).name}"
    ]
    if stopped:
        lines.append(f"stopped before the end of the script: {stopped}")
    coverage = sidecar.coverage
    if not coverage:
        lines.append("no face was measured in any frame: there is nothing to train on; record again")
    elif coverage["missing"]:
        lines.append("still missing (record again, or record these in a second clip):")
        lines += [f"- {item['state'].replace('_', ' ')}: {item['advice']}" for item in coverage["missing"]]
    else:
        lines.append("every coverage bin is full")
    for condition in sidecar.conditions:
        lines.append(f"seen on {condition['frames']} frames: {condition['line']}")
    if sidecar.neutral_frame is None:
        lines.append("no neutral face was recorded (its prompt was not reached): live prepare will use the median")
    return lines
