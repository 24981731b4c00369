"""The sidecar `live record` writes beside its video and `live prepare` reads (format 1).

NAME.mp4 -> NAME.mp4.json, a JSON object:
  format, format_version    "live-recording", 1
  video_sha256              the video's bytes when it was written: a sidecar never speaks for another video
  frames, fps, frame_size_px  the video's frame count, rate and (width, height)
  consent                   the statement read aloud at the first prompt (live.formats.consent)
  timeline                  one entry per prompt shown: prompt, start_frame, end_frame (exclusive),
                            start_s, end_s (video time), ended (one of PROMPT_ENDINGS), note
  neutral_frame             the frame recorded at the neutral prompt (null when that prompt was not reached)
  coverage                  live.face.coverage's report of the recorded frames
  conditions                bad conditions seen: condition, frames, first_s, line
  created, source           when, and from what (camera or file)
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from live.errors import UsageError
from live.formats.consent import check_consent
from live.formats.dataset import sha256_of_file
from live.formats.replacing import replacing

SIDECAR_FORMAT = "live-recording"
SIDECAR_FORMAT_VERSION = 1
SIDECAR_SUFFIX = ".json"
MAX_SIDECAR_BYTES = 4 << 20
PROMPT_ENDINGS = ("done", "full", "time-out", "skipped", "stopped")


@dataclass(frozen=True, slots=True)
class PromptSpan:
    """One prompt as recorded: frames [start_frame, end_frame) of the video, and how it ended."""

    prompt: str
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    ended: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class RecordingSidecar:
    """What `live record` knows of its video that the video cannot say (see the module docstring)."""

    video_sha256: str
    frames: int
    fps: float
    frame_size_px: tuple[int, int]
    consent: str
    timeline: tuple[PromptSpan, ...]
    neutral_frame: int | None
    coverage: dict = field(default_factory=dict)
    conditions: tuple[dict, ...] = ()
    created: str = ""
    source: str = ""

    def span(self, prompt: str) -> PromptSpan | None:
        """The timeline entry of `prompt`, or None when it was not shown."""
        return next((span for span in self.timeline if span.prompt == prompt), None)

    def to_dict(self) -> dict:
        """JSON-ready, with the format and its version first."""
        return {"format": SIDECAR_FORMAT, "format_version": SIDECAR_FORMAT_VERSION, **asdict(self)}


def sidecar_path(video: Path) -> Path:
    """Where the sidecar of `video` lives: beside it, its whole name + ".json"."""
    video = Path(video)
    return video.with_name(video.name + SIDECAR_SUFFIX)


def write_sidecar(video: Path, sidecar: RecordingSidecar) -> Path:
    """Write the sidecar beside `video`, whole or not at all; its path. OSError passes through."""
    path = sidecar_path(video)
    with replacing(path) as temporary:
        temporary.write_text(json.dumps(sidecar.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_sidecar(video: Path) -> RecordingSidecar | None:
    """The sidecar beside `video`, checked, or None when there is none; UsageError (one line naming the file)
    when it is unreadable, of another format or version, or was written for other video bytes."""
    path = sidecar_path(video)
    if not path.exists():
        return None
    if not path.is_file() or path.stat().st_size > MAX_SIDECAR_BYTES:
        raise UsageError(f"{path} is not a `live record` sidecar (a file of at most 4 MiB): remove or rename it")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read {path}: {error}; remove it, or record again") from error
    sidecar = _from_dict(data, path)
    if sidecar.video_sha256 != sha256_of_file(video):
        raise UsageError(
            f"{path} was written for other bytes than {video} (the video changed after `live record`): "
            "remove the sidecar, or record again"
        )
    return sidecar


def _from_dict(data: object, path: Path) -> RecordingSidecar:
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        raise UsageError(f"{path} is not a `live record` sidecar (no format {SIDECAR_FORMAT!r}): remove or rename it")
    if data.get("format_version") != SIDECAR_FORMAT_VERSION:
        raise UsageError(
            f"{path} is sidecar format {data.get('format_version')!r}; this live reads format "
            f"{SIDECAR_FORMAT_VERSION}: use the live that recorded it"
        )
    try:
        frames = _count(data["frames"], "frames")
        timeline = tuple(_span(entry, frames) for entry in data["timeline"])
        neutral = data["neutral_frame"]
        if neutral is not None and (_count(neutral, "neutral_frame") >= frames):
            raise ValueError(f"neutral_frame {neutral} is not one of the video's {frames} frames")
        fps = float(data["fps"])
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps {fps} is not a frame rate")
        width_px, height_px = (_count(value, "frame_size_px") for value in data["frame_size_px"])
        sidecar = RecordingSidecar(
            video_sha256=str(data["video_sha256"]),
            frames=frames,
            fps=fps,
            frame_size_px=(width_px, height_px),
            consent=check_consent(data["consent"], option=f"{path}'s consent"),
            timeline=timeline,
            neutral_frame=neutral,
            coverage=dict(data.get("coverage") or {}),
            conditions=tuple(dict(item) for item in data.get("conditions") or ()),
            created=str(data.get("created", "")),
            source=str(data.get("source", "")),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise UsageError(f"{path} is damaged ({type(error).__name__}: {error}): remove it, or record again") from error
    return sidecar


def _count(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} {value!r} is not a count")
    return value


def _span(entry: dict, frames: int) -> PromptSpan:
    span = PromptSpan(
        prompt=str(entry["prompt"]),
        start_frame=_count(entry["start_frame"], "start_frame"),
        end_frame=_count(entry["end_frame"], "end_frame"),
        start_s=float(entry["start_s"]),
        end_s=float(entry["end_s"]),
        ended=str(entry["ended"]),
        note=str(entry.get("note", "")),
    )
    if not span.start_frame <= span.end_frame <= frames or span.ended not in PROMPT_ENDINGS:
        raise ValueError(f"prompt {span.prompt!r} spans frames {span.start_frame}-{span.end_frame} of {frames}")
    return span
