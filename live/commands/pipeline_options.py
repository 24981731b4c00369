"""The pipeline's options shared by `live run`, `live demo` and `live bench`, derived from PipelineConfig."""

from __future__ import annotations

import argparse

from live.engines.generator import GeneratorSessionConfig
from live.engines.landmarks import LandmarkConfig
from live.errors import UsageError
from live.face.background import COLOR_FORMS, Background, format_color, parse_background
from live.face.retarget import RetargetConfig
from live.io.background_file import read_background_image
from live.pipeline.stages import PipelineConfig, default_generator_workers


def add_generator_workers_argument(parser: argparse.ArgumentParser) -> None:
    """--generator-workers (`live run` and `live bench`), its default PipelineConfig's."""
    default = PipelineConfig.__dataclass_fields__["generator_workers"].default
    parser.add_argument(
        "--generator-workers",
        type=int,
        default=default,
        metavar="N",
        help=f"generator threads rendering frames side by side, each with its own session "
        f"(default {default}: {default_generator_workers()} on this machine), each with --threads",
    )


def add_eye_warp_argument(parser: argparse.ArgumentParser) -> None:
    """--no-eye-warp (`live run`, `live drive-eval`): PipelineConfig.eye_warp off."""
    parser.add_argument(
        "--no-eye-warp",
        action="store_true",
        help="leave the generated eyes as drawn (default: moved to the asked opening by the card's eye response)",
    )


def add_render_arguments(parser: argparse.ArgumentParser) -> None:
    """--no-eye-warp, --no-corner-warp and --no-head-follow (`live run`, `live eval`, `live drive-eval`)."""
    add_eye_warp_argument(parser)
    parser.add_argument(
        "--no-corner-warp",
        action="store_true",
        help="leave the generated mouth corners as drawn (default: moved to the asked lift by the card's corner "
        "response, so that a grin lifts them as far as the driver's)",
    )
    parser.add_argument(
        "--no-head-follow",
        action="store_true",
        help="leave the plate's own head where it is (default: moved to where the avatar's head is, so that it "
        "does not show beside it; a model trained with it, train.head_follow in its card, paints badly without)",
    )


def add_background_arguments(parser: argparse.ArgumentParser) -> None:
    """--background and --key-color (`live run`, `live demo`), their defaults Background's."""
    default = Background()
    parser.add_argument(
        "--background",
        default=default.kind,
        metavar="plate|transparent|COLOR|FILE",
        help=f"behind the person: plate (the target's own, default {default.kind}); transparent (PNG folders, "
        f".webm and web keep alpha, other outputs get --key-color); a colour ({COLOR_FORMS}); or an image file",
    )
    parser.add_argument(
        "--key-color",
        default=None,
        metavar="COLOR",
        help=f"with --background transparent: behind the person in outputs without alpha (window, vcam, web, .mp4, "
        f".avi; default {format_color(default.key_color_bgr)})",
    )


def background_config(args: argparse.Namespace) -> Background:
    """The Background of --background and --key-color; UsageError (one line) for a bad colour or an image file
    that cannot be read, found before anything opens."""
    background = parse_background(args.background, args.key_color)
    if background.image_path is not None:
        read_background_image(background.image_path)
    return background


def render_switches(args: argparse.Namespace) -> dict[str, bool]:
    """PipelineConfig's eye_warp, head_follow and corner_warp from add_render_arguments' options."""
    return {
        "eye_warp": not args.no_eye_warp,
        "head_follow": not args.no_head_follow,
        "corner_warp": not args.no_corner_warp,
    }


def pipeline_config(
    generator: GeneratorSessionConfig,
    retarget: RetargetConfig,
    *,
    pace: bool,
    is_camera: bool,
    max_frames: int = 0,
    generator_workers: int = 0,
    eye_warp: bool = True,
    head_follow: bool = True,
    corner_warp: bool = True,
    background: Background | None = None,
) -> PipelineConfig:
    """The frozen pipeline configuration (`live run` and `live demo`): an unpaced recording is rendered losslessly."""
    if max_frames < 0:
        raise UsageError("--max-frames must be 0 or more")
    if generator_workers < 0:
        raise UsageError("--generator-workers must be 0 or more (0: automatic)")
    return PipelineConfig(
        generator=generator,
        landmarks=LandmarkConfig(),
        retarget=retarget,
        pace=pace,
        lossless=not pace and not is_camera,
        max_frames=max_frames,
        generator_workers=generator_workers,
        eye_warp=eye_warp,
        head_follow=head_follow,
        corner_warp=corner_warp,
        background=background or Background(),
    )
