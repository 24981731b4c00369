"""`live run` retargeting and smoothing options reach the RetargetConfig."""

from __future__ import annotations

import pytest

from live.cli import build_parser
from live.commands.run import retarget_config
from live.errors import UsageError
from live.face.retarget import RetargetConfig


def parse(*words: str):
    return build_parser("run").parse_args(["run", "--model", "m.onnx", *words])


def test_defaults_are_the_retargeters() -> None:
    assert retarget_config(parse()) == RetargetConfig()


def test_options_are_passed_through() -> None:
    config = retarget_config(
        parse(
            "--retarget",
            "pose",
            "--no-smoothing",
            "--pose-beta",
            "3.5",
            "--expression-min-cutoff-hz",
            "0.8",
            "--pose-margin-deg",
            "5",
            "--no-shape-clamp",
            "--mouth-from-neutral",
            "--no-body-follow",
            "--calibration",
            "me.json",
        )
    )
    assert (config.mode, config.smoothing, config.pose_beta, config.expression_min_cutoff_hz) == (
        "pose",
        False,
        3.5,
        0.8,
    )
    assert (config.pose_margin_deg, config.shape_clamp, config.calibration_path) == (5.0, False, "me.json")
    assert not config.mouth_from_closed and RetargetConfig().mouth_from_closed
    assert not config.body_follow and RetargetConfig().body_follow


def test_bad_values_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="smoothing cutoffs"):
        retarget_config(parse("--pose-min-cutoff-hz", "0"))


def test_generator_workers_reach_the_pipeline_config_and_bench() -> None:
    from live.commands.bench import bench_config
    from live.commands.run import run_pipeline_config
    from live.pipeline.stages import PipelineConfig

    default = PipelineConfig.__dataclass_fields__["generator_workers"].default
    assert run_pipeline_config(parse(), is_camera=False).generator_workers == default == 0
    assert run_pipeline_config(parse("--generator-workers", "3"), is_camera=False).generator_workers == 3
    with pytest.raises(UsageError, match="--generator-workers must be 0 or more"):
        run_pipeline_config(parse("--generator-workers", "-1"), is_camera=False)
    bench_arguments = build_parser("bench").parse_args(
        ["bench", "--model", "m.onnx", "--source", "clip.mp4", "--generator-workers", "1"]
    )
    bench = bench_config(bench_arguments)
    assert bench.generator_workers == 1
    assert (
        bench.pipeline(pace=False).generator_workers == 1
        and bench.pipeline(pace=True, sequential=True).generator_workers == 1
    )


def test_no_eye_warp_reaches_the_pipeline_config() -> None:
    from live.commands.run import run_pipeline_config

    assert run_pipeline_config(parse(), is_camera=False).eye_warp, "on by default"
    assert not run_pipeline_config(parse("--no-eye-warp"), is_camera=False).eye_warp
    drive_eval = build_parser("drive-eval").parse_args(["drive-eval", "m.onnx", "clip.mp4", "--no-eye-warp"])
    evaluate = build_parser("eval").parse_args(["eval", "m.onnx", "dataset", "--no-eye-warp"])
    assert drive_eval.no_eye_warp and evaluate.no_eye_warp
