"""`live make`'s closing summary: what the avatar scores beside the default avatar and the nearest-frame baseline,
what its recording lacked, one line of judgement, and the `live run` line to use.

The figures: `live eval`'s on the avatar's own held-out frames (face and whole-frame PSNR, face SSIM, the face's
detail ratio), the default avatar's from its card (its own held-out frames: another person,
so a guide, not a match) and the nearest-training-frame baseline's (the same frames, from the eval report);
`live drive-eval`'s eye / mouth / smile / yaw r on one driver clip of another person, for this avatar and the
default one alike (measured here, on the same clip). What was lacking: the coverage report the card keeps
(live.face.coverage, written by `live export`).
"""

from __future__ import annotations

from pathlib import Path

from live.engines.generator import GeneratorSession, GeneratorSessionConfig
from live.offline.expression import DriveConfig, evaluate_drive

DRIVE_MEASURES = ("eye", "mouth", "smile", "yaw")
EXPRESSIONS = ("eye", "mouth", "smile")
FIGURES = (  # (key of the eval report's model figures, label, unit)
    ("psnr_db_face", "face PSNR", "dB"),
    ("psnr_db_frame", "whole-frame PSNR", "dB"),
    ("ssim_bgr_mean_face", "face SSIM", ""),
    ("detail_ratio_face", "face detail ratio", ""),  # fine detail kept, output / real (1: all of it)
)
# What the default avatar reaches (models/jwp.md): its face PSNR over its nearest-frame baseline, and the
# expression r it gets from other people's clips is the bar for "follows about as well".
FOLLOWS_ABOUT_AS_WELL = 0.1  # each expression's r at most this much under the default avatar's


def drive_r(model: Path, driver: Path, device: str) -> dict[str, float | None]:
    """eye / mouth / smile / yaw r of `model` driven by `driver` (as `live drive-eval MODEL DRIVER`)."""
    report = evaluate_drive(DriveConfig(Path(model), Path(driver), device=device))
    return {name: report["correlation"].get(name) for name in DRIVE_MEASURES}


def _card(model: Path):
    with GeneratorSession(GeneratorSessionConfig(Path(model), "cpu")) as session:
        return session.card


def summarise(eval_report: dict, model: Path, default_model: Path, driver: Path, device: str) -> dict:
    """The summary's figures, JSON-ready."""
    own, default_card = _card(model), _card(default_model)
    return {
        "model": {key: eval_report["model"].get(key) for key, _, _ in FIGURES},
        "baseline": {key: eval_report["nearest_frame_baseline"].get(key) for key, _, _ in FIGURES},
        "default": {key: default_card.metrics.get("eval", {}).get(key) for key, _, _ in FIGURES},
        "held_out_frames": eval_report["frames"],
        "driver": str(driver),
        "drive": {"model": drive_r(model, driver, device), "default": drive_r(default_model, driver, device)},
        "pose_range_deg": {name: own.pose_range_deg.get(name) for name in ("yaw", "pitch")},
        "missing": [
            {"what": str(item.get("state", item.get("bin", "?"))).replace("_", " "), "advice": item.get("advice", "")}
            for item in own.expression_range.get("missing", [])
        ],
    }


def _text(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _weakest_expression(summary: dict) -> tuple[str, float, float] | None:
    """(name, this avatar's r, the default's r) of the expression this avatar follows worst against the default
    avatar; None when a figure is missing."""
    own, default = summary["drive"]["model"], summary["drive"]["default"]
    if any(who.get(name) is None for who in (own, default) for name in EXPRESSIONS):
        return None
    name = max(EXPRESSIONS, key=lambda expression: default[expression] - own[expression])
    return name, own[name], default[name]


def judgement(summary: dict) -> str:
    """One line: is this avatar good enough, and what would make it better."""
    model, baseline = summary["model"].get("psnr_db_face"), summary["baseline"].get("psnr_db_face")
    if model is None or baseline is None or model <= baseline:
        return (
            "not good yet: it paints held-out faces no better than copying the nearest training frame; give it "
            "more --minutes"
        )
    margin = f"beats copying the nearest training frame by {model - baseline:.1f} dB"
    weakest = _weakest_expression(summary)
    if weakest is None or weakest[2] - weakest[1] > FOLLOWS_ABOUT_AS_WELL:
        figures = "" if weakest is None else f" (r {_text(weakest[1])} against {_text(weakest[2])})"
        what = "expressions" if weakest is None else f"{weakest[0]}"
        return (
            f"usable, but it follows the driver's {what} less than the default avatar{figures} although it "
            f"{margin}: record what it lacked, or give it more --minutes"
        )
    lacking = "; it cannot show what its recording lacked" if summary["missing"] else ""
    return f"good: it {margin} and follows expressions about as well as the default avatar{lacking}"


def _turns_line(pose_range_deg: dict) -> str:
    """What head turns the avatar can follow: the recording's range (live.face.training_range holds a
    driver's turns beyond it at its edge)."""
    ranges = [
        f"{name} {values[0]:+.0f} to {values[1]:+.0f} degrees"
        for name, values in pose_range_deg.items()
        if values is not None and len(values) == 2
    ]
    return f"head turns it follows: {', '.join(ranges) or 'unknown'} (the recording's; beyond, held at the edge)"


def summary_lines(summary: dict, out: Path, strip: Path, default_model: Path) -> list[str]:
    """The summary for the terminal (and the log)."""
    lines = [f"{'':22}{'this avatar':>14}{'default avatar':>16}{'nearest frame':>15}"]
    for key, label, unit in FIGURES:
        label = f"{label}, {unit}" if unit else label
        row = [summary[who].get(key) for who in ("model", "default", "baseline")]
        lines.append(f"{label:22}{_text(row[0]):>14}{_text(row[1]):>16}{_text(row[2]):>15}")
    measures = " / ".join(DRIVE_MEASURES)
    drives = [
        " / ".join(_text(summary["drive"][who].get(name)) for name in DRIVE_MEASURES) for who in ("model", "default")
    ]
    lines.append(f"driven by {Path(summary['driver']).name}, {measures} r: {drives[0]} (default avatar {drives[1]})")
    lines.append(
        f"(PSNR and SSIM on {summary['held_out_frames']} held-out frames of the recording; the default avatar's "
        f"are on its own, from the card of {default_model})"
    )
    lines.append(f"strip (sketch | real | generated | nearest frame): {strip}")
    lacked = "; ".join(f"{item['what']} ({item['advice']})" for item in summary["missing"]) or "nothing coverage checks"
    lines.append(f"the recording lacked: {lacked}")
    lines.append(_turns_line(summary.get("pose_range_deg", {})))
    lines.append(f"judgement: {judgement(summary)}")
    lines.append(f"run it: live run --model {out} --source 0 --output window")
    return lines
