"""Shared fixtures: a tiny but real exported generator with a plausible model card."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
DATA = REPOSITORY / "data"
TINY_SIZE_PX = 64


def _portrait_head(size_px: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A shipped portrait as a target: its real MediaPipe landmarks in its aligned head crop of size_px,
    the crop's plate->crop transform, and the portrait itself as the plate."""
    from live.engines.landmarks import LandmarkConfig, LandmarkDetector
    from live.face.alignment import apply_transform, crop_transform

    plate_bgr = cv2.imread(str(DATA / "grace_hopper.jpg"))
    with LandmarkDetector(LandmarkConfig(static_image_mode=True)) as detector:
        landmarks_px = detector.detect(plate_bgr)
    assert landmarks_px is not None, "no face found in grace_hopper.jpg"
    transform = crop_transform(landmarks_px, size_px)
    return apply_transform(transform, landmarks_px), transform, plate_bgr


def _neutral_landmarks_px(size_px: int) -> np.ndarray:
    """Real MediaPipe landmarks of a shipped portrait, in its aligned head crop of size_px."""
    return _portrait_head(size_px)[0]


# The programs some tests drive, and the Debian package that brings each. Such a test is marked
# @pytest.mark.needs("Xvfb", ...): without the program it is skipped naming the package, except under CI=true,
# where a missing program fails the test, so that CI runs every test.
TOOL_PACKAGES = {"Xvfb": "xvfb", "twm": "twm", "import": "imagemagick", "xdotool": "xdotool", "chromium": "chromium"}
_missing_packages: set[str] = set()


def tool_found(tool: str) -> bool:
    """Whether a program a test needs is on the PATH (Chromium: also LIVE_TEST_CHROMIUM or chromium-browser)."""
    if tool == "chromium":
        return bool(
            os.environ.get("LIVE_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
        )
    return shutil.which(tool) is not None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a test whose programs are missing, naming the packages to install; fail it instead under CI=true."""
    missing = [tool for marker in item.iter_markers("needs") for tool in marker.args if not tool_found(tool)]
    if not missing:
        return
    packages = sorted({TOOL_PACKAGES[tool] for tool in missing})
    message = f"needs {', '.join(sorted(set(missing)))}: apt-get install {' '.join(packages)}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true runs every test)", pytrace=False)
    _missing_packages.update(packages)
    pytest.skip(message)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One closing line naming what to install to run the skipped tests."""
    if _missing_packages:
        terminalreporter.write_line(
            "some tests were skipped for missing programs; to run them: "
            f"apt-get install {' '.join(sorted(_missing_packages))}"
        )


_ALLOWED_ROOTS = tuple(
    str(Path(root).resolve()) for root in {tempfile.gettempdir(), sys.prefix, sys.base_prefix, str(REPOSITORY)}
)
_outside_reads: list[str] = []


def _audit_open(event: str, arguments: tuple) -> None:
    """Note every file a test opens beside the clone (e.g. ../shared): a user's clone has nothing there."""
    if event != "open" or not isinstance(arguments[0], (str, Path)):
        return
    path = os.path.realpath(os.fspath(arguments[0]))
    if path.startswith(str(REPOSITORY.parent) + os.sep) and not path.startswith(_ALLOWED_ROOTS):
        _outside_reads.append(path)


sys.addaudithook(_audit_open)


@pytest.fixture(autouse=True)
def _reads_only_the_repository() -> Iterator[None]:
    """Fail a test that opened a file outside the repository, in a folder beside it."""
    _outside_reads.clear()
    yield
    assert not _outside_reads, f"test read files outside the repository: {sorted(set(_outside_reads))[:5]}"


@pytest.fixture(autouse=True, scope="session")
def _config_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """XDG_CONFIG_HOME in a temporary folder (runs started as processes inherit it): a run that signs a recording
    makes its development certificate there, never in the real home."""
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 64 px generator (UnetGenerator ngf=4, random weights) exported by export_onnx with its card."""
    import torch

    from live.face.alignment import HEAD_TEMPLATE
    from live.formats.card import ModelCard, encode_plate
    from live.training.networks import GeneratorConfig, UnetGenerator
    from live.training.onnx_export import export_onnx

    torch.manual_seed(0)
    config = GeneratorConfig(size_px=TINY_SIZE_PX, ngf=4)
    neutral_px, transform, plate_bgr = _portrait_head(TINY_SIZE_PX)
    plate_base64, plate_sha256 = encode_plate(plate_bgr)
    card = ModelCard(
        name="tiny-test",
        size_px=TINY_SIZE_PX,
        neutral_landmarks_px=neutral_px,
        pose_range_deg={"yaw": [-25.0, 25.0], "pitch": [-15.0, 15.0], "roll": [-10.0, 10.0]},
        architecture=config.to_dict(),
        provenance={"purpose": "tests: random weights, not a trained model"},
        template=HEAD_TEMPLATE.to_dict(),
        plate_size_px=[plate_bgr.shape[1], plate_bgr.shape[0]],
        neutral_transform=transform.tolist(),
        plate_sha256=plate_sha256,
    )
    path = tmp_path_factory.mktemp("models") / "tiny.onnx"
    inputs_bgr = [
        tuple(
            np.random.default_rng(seed + k).integers(0, 256, (TINY_SIZE_PX, TINY_SIZE_PX, 3), dtype=np.uint8)
            for k in range(2)
        )
        for seed in range(2)
    ]
    export_onnx(UnetGenerator(config), card, path, inputs_bgr, plate_base64)
    return path


@pytest.fixture
def clip_frames(tmp_path: Path) -> Callable[[int, str], Path]:
    """write(count, name) -> tmp_path/name holding the first `count` frames of data/jwp_office.mp4 as 000.png, ..."""

    def write(count: int, name: str) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        capture = cv2.VideoCapture(str(DATA / "jwp_office.mp4"))
        for index in range(count):
            cv2.imwrite(str(folder / f"{index:03d}.png"), capture.read()[1])
        capture.release()
        return folder

    return write


@pytest.fixture(scope="session")
def smiling_actor_faces() -> list[np.ndarray]:
    """Every tracked face of the shipped CREMA-D clip (actor 1001 smiling, blinking), scaled and centred to fill
    a 256 px sketch."""
    from tracked_faces import track_clip

    faces = []
    for face in track_clip(DATA / "cremad_1001_HAP.flv"):
        centre = face[:, :2].mean(axis=0)
        face = face.copy()
        face[:, :2] = (face[:, :2] - centre) * 1.8 + 256 / 2
        faces.append(face)
    return faces
