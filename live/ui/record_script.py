"""The script `live record` walks a person through, and how its prompts advance.

A prompt either fills coverage bins (live.face.coverage: the same bins `live prepare` reports) and advances
once each of them holds its target frame count, or after its time-out with a note; or it is timed (the
consent, the neutral face, the passage read aloud) and lasts its time. Time is the video's: frame index
over the recording's frame rate, so a file fed through `--source` runs the script the same way each time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from live.face.coverage import bin_target_frames
from live.formats.sidecar import PromptSpan

MINIMUM_PROMPT_S = 2.0  # a prompt whose bins are already full still shows this long, to be read
PLANNED_S = 120.0  # the recording the bin targets are sized for: a bin full here is not missing there
NEUTRAL_SETTLE_FRACTION = 1 / 3  # the neutral prompt's first third is the face settling: not picked
PASSAGE = (
    "When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow. "
    "The rainbow is a division of white light into many beautiful colours. "
    "These take the shape of a long round arch, with its path high above."
)


@dataclass(frozen=True, slots=True)
class Prompt:
    """name: also the timeline's; text: what the screen says; read: text to read aloud (shown below it);
    bins: the coverage bins it fills (none: a timed prompt); timeout_s: the most time it takes (a timed
    prompt: its length)."""

    name: str
    text: str
    bins: tuple[str, ...] = ()
    timeout_s: float = 12.0
    read: str = ""


def reading_s(text: str) -> float:
    """Time to read `text` aloud slowly: 3 s plus half a second a word, 6 to 30 s."""
    return min(30.0, max(6.0, 3.0 + 0.5 * len(text.split())))


def script_prompts(consent: str) -> tuple[Prompt, ...]:
    """The recording's prompts in order, about 1.5 to 2.5 minutes in all."""
    return (
        Prompt("consent", "Read aloud, looking into the camera:", timeout_s=reading_s(consent), read=consent),
        Prompt("neutral", "Relax: a neutral face, lips closed, looking into the camera", timeout_s=4.0),
        Prompt("head_left", "Turn your head slowly to your left (about 25 degrees) and back", ("head_left",)),
        Prompt("head_right", "Turn your head slowly to your right (about 25 degrees) and back", ("head_right",)),
        Prompt("head_up", "Tilt your head slowly up (about 25 degrees) and back", ("head_up",)),
        Prompt("head_down", "Tilt your head slowly down (about 25 degrees) and back", ("head_down",)),
        Prompt("blinks", "Blink slowly a few times; close your eyes for a second", ("eyes_closed",), 15.0),
        Prompt("smile", "Smile with your lips closed", ("smiling",), 10.0),
        Prompt("grin", "Grin broadly, showing your teeth", ("grin",), 10.0),
        Prompt("mouth_open", "Open your mouth wide: say 'aah'", ("mouth_wide_open",), 10.0),
        Prompt("brows_up", "Raise your eyebrows", ("brows_raised",), 10.0),
        Prompt("frown", "Frown", ("frown",), 10.0),
        Prompt("passage", "Read aloud:", timeout_s=reading_s(PASSAGE), read=PASSAGE),
    )


class PromptRunner:
    """Which prompt is on, and the timeline of those shown. `step` once a recorded frame, with the coverage
    counts so far; `skip` (the person asked) and `stop` (the recording ends) end the current prompt."""

    def __init__(self, prompts: tuple[Prompt, ...], fps: float) -> None:
        self.prompts = prompts
        self.fps = fps
        self.target_frames = bin_target_frames(math.ceil(PLANNED_S * fps))
        self.timeline: list[PromptSpan] = []
        self._index = 0
        self._start_frame = 0

    @property
    def current(self) -> Prompt | None:
        """The prompt on screen; None once the script is done."""
        return self.prompts[self._index] if self._index < len(self.prompts) else None

    @property
    def position(self) -> str:
        """ "3/13": the current prompt's place in the script."""
        return f"{min(self._index + 1, len(self.prompts))}/{len(self.prompts)}"

    def seconds_left(self, frame_index: int) -> float:
        """Time until the current prompt times out."""
        prompt = self.current
        return 0.0 if prompt is None else max(0.0, prompt.timeout_s - (frame_index - self._start_frame) / self.fps)

    def fill(self, counts: dict[str, int], name: str) -> float:
        """How full bin `name` is, 0 to 1."""
        return min(1.0, counts.get(name, 0) / self.target_frames)

    def step(self, frame_index: int, counts: dict[str, int]) -> PromptSpan | None:
        """Account frame `frame_index` (recorded) to the current prompt; the prompt's span when it ends here."""
        prompt = self.current
        if prompt is None:
            return None
        elapsed_s = (frame_index + 1 - self._start_frame) / self.fps
        full = bool(prompt.bins) and all(self.fill(counts, name) >= 1.0 for name in prompt.bins)
        if full and elapsed_s >= MINIMUM_PROMPT_S:
            return self._end(frame_index + 1, "full")
        if elapsed_s >= prompt.timeout_s:
            if not prompt.bins:
                return self._end(frame_index + 1, "done")
            shown = ", ".join(
                f"{name.replace('_', ' ')} {counts.get(name, 0)} of {self.target_frames} frames" for name in prompt.bins
            )
            return self._end(frame_index + 1, "time-out", f"timed out after {prompt.timeout_s:g} s: {shown}")
        return None

    def skip(self, end_frame: int) -> PromptSpan | None:
        """End the current prompt at `end_frame` (exclusive), skipped by the person."""
        return self._end(end_frame, "skipped", "skipped by the person") if self.current else None

    def stop(self, end_frame: int, note: str) -> PromptSpan | None:
        """End the current prompt at `end_frame` (exclusive): the recording stopped."""
        return self._end(end_frame, "stopped", note) if self.current else None

    def _end(self, end_frame: int, ended: str, note: str = "") -> PromptSpan:
        prompt = self.current
        assert prompt is not None
        span = PromptSpan(
            prompt=prompt.name,
            start_frame=self._start_frame,
            end_frame=end_frame,
            start_s=round(self._start_frame / self.fps, 3),
            end_s=round(end_frame / self.fps, 3),
            ended=ended,
            note=note,
        )
        self.timeline.append(span)
        self._index += 1
        self._start_frame = end_frame
        return span


def pick_neutral(candidates: list[tuple[int, np.ndarray]]) -> int | None:
    """The frame index of the neutral prompt's most typical face: after its first third (settling), the frame
    whose crop landmarks lie nearest their median. `candidates`: (frame index, (478, 3) crop landmarks)."""
    if not candidates:
        return None
    settled = candidates[int(len(candidates) * NEUTRAL_SETTLE_FRACTION) :] or candidates
    faces = np.stack([face[:, :2] for _, face in settled]).astype(np.float64)
    distances = ((faces - np.median(faces, axis=0)) ** 2).sum(axis=(1, 2))
    return int(settled[int(np.argmin(distances))][0])
