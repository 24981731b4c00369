"""Coverage of a target's recording: which expressions and head poses the avatar will have seen.

`live prepare` prints it (and the card keeps it, `expression_range`): the distribution
of eye opening, mouth opening, smile, yaw and pitch over the kept frames, the
share of frames with the eyes closed, the mouth wide open, smiling or the head
turned, and one line for each state that is missing, saying what to record.
A generator cannot draw what it never saw: a target that never blinked gets an
avatar that cannot close its eyes, whatever the driver does.

States are judged against the target's own typical (median) face, so a person
with narrow eyes or a wide mouth is not counted as blinking or smiling:
    eyes closed: eye opening below EYES_CLOSED_FRACTION of the median;
    mouth wide open: inner-lip gap over MOUTH_WIDE_OPENING of the face height;
    smiling: mouth-corner distance over SMILE_FRACTION of the median;
    head turned: yaw or pitch more than HEAD_TURNED_DEG from the median;
    teeth showing (when the photos' teeth shares are given, live.face.teeth): over TEETH_SHOWING.
`sample_weights` gives training a balanced draw over these states (rare ones oversampled).
"""

from __future__ import annotations

import numpy as np

from live.face.expression import MEASURE_NAMES, eye_openings, measure_series

EYES_CLOSED_FRACTION = 0.5
MOUTH_WIDE_OPENING = 0.08
SMILE_FRACTION = 1.08
HEAD_TURNED_DEG = 12.0
MISSING_SHARE = 0.02  # a state on fewer than 2% of the frames (or under 3 frames) counts as missing
STATE_ADVICE = {
    "eyes_closed": "blink a few times, and close your eyes for a second or two, while recording",
    "mouth_wide_open": "open your mouth wide a few times (say 'aah', laugh)",
    "smiling": "smile a few times, with and without teeth",
    "head_turned": "turn your head slowly to the left and right, and nod up and down",
}
STATE_NAMES = tuple(STATE_ADVICE)
TEETH_SHOWING = 0.05  # share of the open mouth
TEETH_ADVICE = "talk and smile with your teeth showing for a few seconds"


def frame_states(landmarks_px: np.ndarray) -> dict[str, np.ndarray]:
    """Per frame of (N, 478, 3) landmarks, a boolean for each of STATE_NAMES."""
    series = measure_series(list(landmarks_px))
    median = {name: float(np.median(values)) for name, values in series.items()}
    return {
        "eyes_closed": series["eye"] < EYES_CLOSED_FRACTION * median["eye"],
        "mouth_wide_open": series["mouth"] > MOUTH_WIDE_OPENING,
        "smiling": series["smile"] > SMILE_FRACTION * median["smile"],
        "head_turned": (np.abs(series["yaw"] - median["yaw"]) > HEAD_TURNED_DEG)
        | (np.abs(series["pitch"] - median["pitch"]) > HEAD_TURNED_DEG),
    }


def coverage_report(landmarks_px: np.ndarray, teeth_shares: np.ndarray | None = None) -> dict:
    """JSON-ready: percentiles of each measure, share of each state, missing states with advice, and the
    eye/mouth range the retargeter keeps to (eye: 1st-99th percentile of either eye; mouth: 99th), and the
    smile's 1st-99th percentile (for people: clamping the smile to it measured worse). `teeth_shares`: each
    frame's (live.face.teeth); given, "teeth showing" is a state too."""
    landmarks_px = np.asarray(landmarks_px)
    series = measure_series(list(landmarks_px))
    states = frame_states(landmarks_px)
    count = len(landmarks_px)
    shares = {name: round(float(flags.mean()), 4) for name, flags in states.items()}
    missing = [
        {"state": name, "frames": int(flags.sum()), "advice": STATE_ADVICE[name]}
        for name, flags in states.items()
        if flags.sum() < max(3, MISSING_SHARE * count)
    ]
    if teeth_shares is not None:
        showing = np.asarray(teeth_shares) > TEETH_SHOWING
        shares["teeth_showing"] = round(float(showing.mean()), 4)
        if showing.sum() < max(3, MISSING_SHARE * count):
            missing.append({"state": "teeth_showing", "frames": int(showing.sum()), "advice": TEETH_ADVICE})
    per_eye = eye_openings(landmarks_px).ravel()
    return {
        "frames": count,
        "percentiles": {
            name: dict(zip(("p5", "p50", "p95"), np.round(np.percentile(series[name], [5, 50, 95]), 4).tolist()))
            for name in MEASURE_NAMES
        },
        "shares": shares,
        "missing": missing,
        "eye": {"low": round(float(np.percentile(per_eye, 1)), 4), "high": round(float(np.percentile(per_eye, 99)), 4)},
        "mouth": {"high": round(float(np.percentile(series["mouth"], 99)), 4)},
        "smile": {
            "low": round(float(np.percentile(series["smile"], 1)), 4),
            "high": round(float(np.percentile(series["smile"], 99)), 4),
        },
    }


def coverage_lines(report: dict) -> list[str]:
    """The report as lines for the terminal: distributions, state shares, then one line per missing state."""
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
    combinations (each combination of STATE_NAMES that occurs gets the same total), so rare expressions
    are drawn more often without dropping the common ones."""
    states = frame_states(np.asarray(landmarks_px))
    keys = np.stack([states[name] for name in STATE_NAMES], axis=1)
    _, groups, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    groups = groups.ravel()
    balanced = 1.0 / (counts[groups] * len(counts))
    weights = (1.0 - balance) / len(groups) + balance * balanced
    return weights / weights.sum()
