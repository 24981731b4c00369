"""Coverage of a target's recording: which expressions and head poses the avatar will have seen.

`live prepare` prints it (and the card keeps it, `expression_range`), and `live record` shows it filling as
the person records (its meter): one definition for both, `CoverageMeter`, to which frames are added one at a
time; `coverage_report` is the meter fed a whole clip at once. It holds the distribution of eye opening,
mouth opening, smile, yaw and pitch over the frames, the share of frames in each bin (eyes closed, mouth
wide open, smiling, head turned, ...), and one line for each bin that is missing, saying what to record.
A generator cannot draw what it never saw: a target that never blinked gets an avatar that cannot close its
eyes, whatever the driver does.

Bins are judged against the target's own typical (median) face, so a person with narrow eyes or a wide mouth
is not counted as blinking or smiling:
    eyes closed: eye opening below EYES_CLOSED_FRACTION of the median;
    mouth wide open: inner-lip gap over MOUTH_WIDE_OPENING of the face height;
    smiling: mouth-corner distance over SMILE_FRACTION of the median;
    head turned: yaw or pitch more than HEAD_TURNED_DEG from the median (and, one bin each, to the person's
        left, right, up and down: yaw > 0 turns the nose to the image's right, the person's left);
    brows raised: brow height (mid-brow to the eye corners / face width) over BROWS_RAISED_FRACTION of the median;
    frown: inner-brow height under FROWN_FRACTION of the median, not smiling;
    teeth showing (when the photos' teeth shares are given, live.face.teeth): over TEETH_SHOWING;
    grin: smiling with the teeth showing.
A bin is missing when it holds fewer than `bin_target_frames(frames)` frames.
`sample_weights` gives training a balanced draw over BALANCED_STATES (rare ones oversampled).
"""

from __future__ import annotations

import math

import numpy as np

from live.face.expression import MEASURE_NAMES, eye_openings, measure_series, measures, mouth_opening, smile

EYES_CLOSED_FRACTION = 0.5
MOUTH_WIDE_OPENING = 0.08
SMILE_FRACTION = 1.08
HEAD_TURNED_DEG = 12.0
BROWS_RAISED_FRACTION = 1.12
FROWN_FRACTION = 0.92
MISSING_SHARE = 0.02  # a bin with fewer than 2% of the frames (or under 3 frames) counts as missing
MISSING_MINIMUM_FRAMES = 3
TEETH_SHOWING = 0.05  # share of the open mouth
TEETH_ADVICE = "talk and smile with your teeth showing for a few seconds"
STATE_ADVICE = {  # the bins of the landmarks alone
    "eyes_closed": "blink a few times, and close your eyes for a second or two, while recording",
    "mouth_wide_open": "open your mouth wide a few times (say 'aah', laugh)",
    "smiling": "smile a few times, with and without teeth",
    "head_turned": "turn your head slowly to the left and right, and nod up and down",
    "head_left": "turn your head slowly to your left, about 25 degrees",
    "head_right": "turn your head slowly to your right, about 25 degrees",
    "head_up": "tilt your head slowly up, about 25 degrees",
    "head_down": "tilt your head slowly down, about 25 degrees",
    "brows_raised": "raise your eyebrows a few times",
    "frown": "frown a few times",
}
BIN_ADVICE = {**STATE_ADVICE, "teeth_showing": TEETH_ADVICE, "grin": "grin broadly, showing your teeth"}
BIN_NAMES = tuple(BIN_ADVICE)
TEETH_BINS = ("teeth_showing", "grin")  # only when teeth shares are given
# A bin whose parent is missing is not named again (no "head left" line under "head turned").
BIN_PARENTS = {
    "head_left": "head_turned",
    "head_right": "head_turned",
    "head_up": "head_turned",
    "head_down": "head_turned",
    "grin": "smiling",
}
STATE_NAMES = tuple(name for name in STATE_ADVICE if name not in BIN_PARENTS)  # what a still face misses
BALANCED_STATES = ("eyes_closed", "mouth_wide_open", "smiling", "head_turned")  # training's balanced draw
_RIGHT_BROW_MIDDLE, _LEFT_BROW_MIDDLE = 105, 334
_RIGHT_EYE_CORNERS, _LEFT_EYE_CORNERS = (33, 133), (263, 362)
_INNER_BROWS = (55, 285)  # right, left
_INNER_EYE_CORNERS = (133, 362)
_FACE_SIDES = (234, 454)
SERIES_NAMES = (*MEASURE_NAMES, "brow", "inner_brow")


def brow_heights(landmarks_px: np.ndarray) -> tuple[float, float]:
    """(brow, inner brow) of one face: the mid-brows' distance to the middle of their eye's corners, and the
    inner brow ends' distance to the inner eye corners, each the mean of both sides over the face width."""
    points = np.asarray(landmarks_px, dtype=np.float64)
    width = max(float(np.linalg.norm(points[_FACE_SIDES[0]] - points[_FACE_SIDES[1]])), 1e-9)
    brow = sum(
        float(np.linalg.norm(points[middle] - points[list(corners)].mean(axis=0)))
        for middle, corners in ((_RIGHT_BROW_MIDDLE, _RIGHT_EYE_CORNERS), (_LEFT_BROW_MIDDLE, _LEFT_EYE_CORNERS))
    )
    inner = sum(
        float(np.linalg.norm(points[brow_end] - points[corner]))
        for brow_end, corner in zip(_INNER_BROWS, _INNER_EYE_CORNERS)
    )
    return brow / 2 / width, inner / 2 / width


def bin_flags(series: dict[str, np.ndarray], teeth_shares: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per frame, a boolean for each bin (BIN_NAMES; the teeth bins only with `teeth_shares`), from the
    frames' SERIES_NAMES measures judged against their own medians."""
    median = {name: float(np.median(values)) for name, values in series.items()}
    yaw_deg = series["yaw"] - median["yaw"]
    pitch_deg = series["pitch"] - median["pitch"]
    smiling = series["smile"] > SMILE_FRACTION * median["smile"]
    flags = {
        "eyes_closed": series["eye"] < EYES_CLOSED_FRACTION * median["eye"],
        "mouth_wide_open": series["mouth"] > MOUTH_WIDE_OPENING,
        "smiling": smiling,
        "head_turned": (np.abs(yaw_deg) > HEAD_TURNED_DEG) | (np.abs(pitch_deg) > HEAD_TURNED_DEG),
        "head_left": yaw_deg > HEAD_TURNED_DEG,
        "head_right": yaw_deg < -HEAD_TURNED_DEG,
        "head_up": pitch_deg > HEAD_TURNED_DEG,
        "head_down": pitch_deg < -HEAD_TURNED_DEG,
        "brows_raised": series["brow"] > BROWS_RAISED_FRACTION * median["brow"],
        "frown": (series["inner_brow"] < FROWN_FRACTION * median["inner_brow"]) & ~smiling,
    }
    if teeth_shares is not None:
        flags["teeth_showing"] = np.asarray(teeth_shares) > TEETH_SHOWING
        flags["grin"] = smiling & flags["teeth_showing"]
    return flags


def bin_target_frames(frame_count: int) -> int:
    """Frames a bin needs among `frame_count` not to count as missing."""
    return max(MISSING_MINIMUM_FRAMES, math.ceil(MISSING_SHARE * frame_count))


class CoverageMeter:
    """Coverage of frames added one at a time (`live record`'s meter); `report()` over the frames so far is
    `coverage_report` of the same frames, which is this meter fed at once."""

    def __init__(self) -> None:
        self._rows: list[list[float]] = []
        self._eyes: list[np.ndarray] = []
        self._teeth: list[float] | None = None

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, landmarks_px: np.ndarray, teeth_share: float | None = None) -> None:
        """Add one face's (478, 3) landmarks (and its teeth share: for every frame, or for none)."""
        if self._rows and (teeth_share is None) != (self._teeth is None):
            raise ValueError("give a teeth share for every frame of a coverage meter, or for none")
        values = measures(landmarks_px)
        self._rows.append([values[name] for name in MEASURE_NAMES] + list(brow_heights(landmarks_px)))
        self._eyes.append(eye_openings(landmarks_px))
        if teeth_share is not None:
            self._teeth = [] if self._teeth is None else self._teeth
            self._teeth.append(float(teeth_share))

    def series(self) -> dict[str, np.ndarray]:
        """Each of SERIES_NAMES over the frames so far."""
        rows = np.array(self._rows, dtype=np.float64).reshape(-1, len(SERIES_NAMES))
        return {name: rows[:, column] for column, name in enumerate(SERIES_NAMES)}

    def flags(self) -> dict[str, np.ndarray]:
        """Per frame so far, a boolean for each bin (`bin_flags`)."""
        return bin_flags(self.series(), None if self._teeth is None else np.array(self._teeth))

    def counts(self) -> dict[str, int]:
        """Frames in each bin so far."""
        return {name: int(values.sum()) for name, values in self.flags().items()} if self._rows else {}

    def report(self) -> dict:
        """`coverage_report` of the frames so far."""
        if not self._rows:
            raise ValueError("a coverage report needs at least one frame")
        return _report(self.series(), np.array(self._eyes).ravel(), self.flags())


def coverage_report(landmarks_px: np.ndarray, teeth_shares: np.ndarray | None = None) -> dict:
    """JSON-ready: percentiles of each measure, share of each bin, missing bins with advice, and the
    eye/mouth range the retargeter keeps to (eye: 1st-99th percentile of either eye; mouth: 99th), and the
    smile's 1st-99th percentile (for people: clamping the smile to it measured worse). `teeth_shares`: each
    frame's (live.face.teeth); given, "teeth showing" and "grin" are bins too."""
    meter = CoverageMeter()
    for index, face in enumerate(np.asarray(landmarks_px)):
        meter.add(face, None if teeth_shares is None else float(teeth_shares[index]))
    return meter.report()


def _report(series: dict[str, np.ndarray], per_eye: np.ndarray, flags: dict[str, np.ndarray]) -> dict:
    count = len(series["eye"])
    missing_names = {name for name, values in flags.items() if values.sum() < bin_target_frames(count)}
    missing = [
        {"state": name, "frames": int(values.sum()), "advice": BIN_ADVICE[name]}
        for name, values in flags.items()
        if name in missing_names and BIN_PARENTS.get(name) not in missing_names
    ]
    return {
        "frames": count,
        "percentiles": {
            name: dict(zip(("p5", "p50", "p95"), np.round(np.percentile(series[name], [5, 50, 95]), 4).tolist()))
            for name in MEASURE_NAMES
        },
        "shares": {name: round(float(values.mean()), 4) for name, values in flags.items()},
        "missing": missing,
        "eye": {"low": round(float(np.percentile(per_eye, 1)), 4), "high": round(float(np.percentile(per_eye, 99)), 4)},
        "mouth": {"high": round(float(np.percentile(series["mouth"], 99)), 4)},
        "smile": {
            "low": round(float(np.percentile(series["smile"], 1)), 4),
            "high": round(float(np.percentile(series["smile"], 99)), 4),
        },
    }


def frame_states(landmarks_px: np.ndarray) -> dict[str, np.ndarray]:
    """Per frame of (N, 478, 3) landmarks, a boolean for each of STATE_NAMES."""
    meter = CoverageMeter()
    for face in np.asarray(landmarks_px):
        meter.add(face)
    flags = meter.flags()
    return {name: flags[name] for name in STATE_NAMES}


def coverage_lines(report: dict) -> list[str]:
    """The report as lines for the terminal: distributions, bin shares, then one line per missing bin."""
    lines = [f"coverage of {report['frames']} frames (p5 / median / p95):"]
    units = {"eye": "lid gap / eye width", "mouth": "lip gap / face height", "smile": "mouth width / face width"}
    for name, values in report["percentiles"].items():
        unit = units.get(name, "degrees")
        lines.append(f"  {name:6} {values['p5']:8.3f} {values['p50']:8.3f} {values['p95']:8.3f}   ({unit})")
    lines.append("  " + ", ".join(f"{name.replace('_', ' ')} {share:.0%}" for name, share in report["shares"].items()))
    for item in report["missing"]:
        what = "no frame" if item["frames"] == 0 else f"only {item['frames']} frames"
        lines.append(f"missing: {what} with {item['state'].replace('_', ' ')}: {item['advice']}")
    return lines


def sample_weights(landmarks_px: np.ndarray, balance: float = 0.5) -> np.ndarray:
    """(N,) sampling probabilities: (1 - balance) uniform + balance spread equally over the frames' state
    combinations (each combination of BALANCED_STATES that occurs gets the same total), so rare expressions
    are drawn more often without dropping the common ones."""
    states = frame_states(np.asarray(landmarks_px))
    keys = np.stack([states[name] for name in BALANCED_STATES], axis=1)
    _, groups, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    groups = groups.ravel()
    balanced = 1.0 / (counts[groups] * len(counts))
    weights = (1.0 - balance) / len(groups) + balance * balanced
    return weights / weights.sum()


MOUTH_CLOSED_OPENING = 0.03  # lips apart by more than this share of the face height: the mouth is not closed


def neutral_problem(neutral_px: np.ndarray, landmarks_px: np.ndarray) -> str | None:
    """What makes a face unfit as the avatar's neutral, judged against the frames it comes from, or None:
    lips apart (over MOUTH_CLOSED_OPENING of the face height), or a smile (a mouth over SMILE_FRACTION as
    wide as the frames' relaxed one: the 25th percentile of their closed-mouth frames, or of all frames when
    fewer than MISSING_MINIMUM_FRAMES have the mouth closed)."""
    neutral_px = np.asarray(neutral_px)
    mouth = float(mouth_opening(neutral_px))
    series = measure_series(list(np.asarray(landmarks_px)))
    closed = series["mouth"] < MOUTH_CLOSED_OPENING
    relaxed = float(
        np.percentile(series["smile"][closed] if closed.sum() >= MISSING_MINIMUM_FRAMES else series["smile"], 25)
    )
    width = float(smile(neutral_px)) / relaxed
    problems = [f"its lips are apart ({mouth:.1%} of the face height)"] if mouth > MOUTH_CLOSED_OPENING else []
    if width > SMILE_FRACTION:
        problems.append(f"it smiles (its mouth is {width - 1:.0%} wider than in the clip's relaxed frames)")
    return " and ".join(problems) or None
