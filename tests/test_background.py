"""`--background plate|transparent|COLOR|FILE`: the person without the target's background.

With the tiny model (its plate is a portrait whose top corners are background) and a few frames of the shipped
clip: PNG folders are BGRA, .webm files VP9 with alpha, outputs without alpha get the key colour, a colour or a
picture is composited behind the person, and bad values stop the run before anything is written. With the
shipped avatar: the face and the hair above it are opaque, the office's far corners transparent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
import onnxruntime
import pytest

from live.cli import main
from live.errors import UsageError
from live.face.alignment import apply_transform, invert_transform
from live.face.background import KEY_COLOR_BGR, Background, cover, parse_background, parse_color
from live.face.head_plate import FACE_OUTLINE
from live.formats.card import ModelCard, read_card_from_metadata

REPOSITORY = Path(__file__).resolve().parents[1]
SHIPPED_MODEL = REPOSITORY / "models" / "jwp.onnx"
CORNER_PX = 24  # the top corners checked for transparency (the tiny model's plate: the portrait's backdrop)


def card_of(model: Path) -> ModelCard:
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return read_card_from_metadata(session.get_modelmeta().custom_metadata_map, str(model))


def neutral_face_centre_px(model: Path) -> tuple[int, int]:
    """(x, y) of the middle of the avatar's neutral face oval, in its frame's pixels."""
    card = card_of(model)
    transform = invert_transform(np.asarray(card.neutral_transform, dtype=np.float64))
    oval = apply_transform(transform, np.asarray(card.neutral_landmarks_px)[FACE_OUTLINE, :2])
    x, y = oval.mean(axis=0)
    return round(x), round(y)


def run_live(model: Path, source: Path, *options: str) -> int:
    return main(["run", "--model", str(model), "--source", str(source), "--no-pace", "--max-frames", "3", *options])


def read_frames(folder: Path) -> list[np.ndarray]:
    return [cv2.imread(str(path), cv2.IMREAD_UNCHANGED) for path in sorted(folder.glob("*.png"))]


def decoded_webm(path: Path) -> list[tuple[str, np.ndarray]]:
    """(pixel format, BGRA) of each frame, decoded by libvpx (FFmpeg's own vp9 decoder drops the alpha)."""
    decoded = []
    decoder = av.CodecContext.create("libvpx-vp9", "r")
    with av.open(str(path)) as container:
        for packet in container.demux(container.streams.video[0]):
            decoded += [(frame.format.name, frame.to_ndarray(format="bgra")) for frame in decoder.decode(packet)]
    return decoded


@pytest.fixture(scope="module")
def tiny_runs(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same three frames rendered with the plate, transparent (PNG, .webm, .avi) and a colour behind."""
    folder = tmp_path_factory.mktemp("background")
    capture = cv2.VideoCapture(str(REPOSITORY / "data" / "jwp_office.mp4"))
    (folder / "clip").mkdir()
    for index in range(3):
        cv2.imwrite(str(folder / "clip" / f"{index:03d}.png"), capture.read()[1])
    capture.release()
    clip = folder / "clip"
    assert run_live(tiny_model_path, clip, "--output", f"{folder / 'plate'}/") == 0
    transparent = ["--background", "transparent", "--output", f"{folder / 'transparent'}/"]
    transparent += ["--output", str(folder / "transparent.webm"), "--output", str(folder / "keyed.avi")]
    assert run_live(tiny_model_path, clip, *transparent) == 0
    assert run_live(tiny_model_path, clip, "--background", "255,0,0", "--output", f"{folder / 'red'}/") == 0
    return {"clip": clip, "folder": folder}


def test_png_frames_are_bgra_transparent_around_the_person_with_the_plate_colours(
    tiny_runs: dict[str, Path], tiny_model_path: Path
) -> None:
    folder = tiny_runs["folder"]
    plate, transparent = read_frames(folder / "plate"), read_frames(folder / "transparent")
    assert len(transparent) == len(plate) == 3
    x, y = neutral_face_centre_px(tiny_model_path)
    for plate_bgr, frame in zip(plate, transparent, strict=True):
        assert plate_bgr.shape[2] == 3 and frame.shape[2] == 4
        alpha = frame[..., 3]
        assert alpha[:CORNER_PX, :CORNER_PX].max() == 0 and alpha[:CORNER_PX, -CORNER_PX:].max() == 0
        assert alpha[y - 4 : y + 5, x - 4 : x + 5].min() == 255
        assert np.array_equal(frame[..., :3], plate_bgr)  # the matte changes no colour: the plate render's pixels


def test_webm_is_vp9_with_alpha(tiny_runs: dict[str, Path], tiny_model_path: Path) -> None:
    decoded = decoded_webm(tiny_runs["folder"] / "transparent.webm")
    assert len(decoded) == 3
    x, y = neutral_face_centre_px(tiny_model_path)
    for pixel_format, frame in decoded:
        assert pixel_format == "yuva420p"
        alpha = frame[..., 3]
        assert alpha[:CORNER_PX, :CORNER_PX].max() < 8 and alpha[:CORNER_PX, -CORNER_PX:].max() < 8
        assert alpha[y - 4 : y + 5, x - 4 : x + 5].min() > 247


def test_outputs_without_alpha_get_the_key_colour(tiny_runs: dict[str, Path]) -> None:
    capture = cv2.VideoCapture(str(tiny_runs["folder"] / "keyed.avi"))
    ok, frame_bgr = capture.read()
    capture.release()
    assert ok
    corner = frame_bgr[:CORNER_PX, :CORNER_PX].reshape(-1, 3).mean(axis=0)
    assert np.abs(corner - KEY_COLOR_BGR).max() < 6  # MJPEG at its finest quantiser


def test_a_colour_is_composited_behind_the_person(tiny_runs: dict[str, Path], tiny_model_path: Path) -> None:
    folder = tiny_runs["folder"]
    x, y = neutral_face_centre_px(tiny_model_path)
    for red, plate_bgr in zip(read_frames(folder / "red"), read_frames(folder / "plate"), strict=True):
        assert red.shape[2] == 3
        assert (red[:CORNER_PX, :CORNER_PX] == (0, 0, 255)).all()
        assert (red[:CORNER_PX, -CORNER_PX:] == (0, 0, 255)).all()
        assert np.array_equal(red[y - 4 : y + 5, x - 4 : x + 5], plate_bgr[y - 4 : y + 5, x - 4 : x + 5])


def test_a_picture_is_scaled_to_cover_the_frame_behind_the_person(
    tiny_runs: dict[str, Path], tiny_model_path: Path, tmp_path: Path
) -> None:
    picture = np.zeros((30, 40, 3), dtype=np.uint8)
    picture[:, :20] = (255, 0, 0)  # left half blue, right half yellow
    picture[:, 20:] = (0, 255, 255)
    cv2.imwrite(str(tmp_path / "behind.png"), picture)
    out = tmp_path / "frames"
    options = ["--background", str(tmp_path / "behind.png"), "--output", f"{out}/"]
    assert run_live(tiny_model_path, tiny_runs["clip"], *options) == 0
    frames = read_frames(out)
    fitted = cover(picture, (frames[0].shape[1], frames[0].shape[0]))
    for frame in frames:
        assert np.array_equal(frame[:CORNER_PX, :CORNER_PX], fitted[:CORNER_PX, :CORNER_PX])
        assert (frame[:CORNER_PX, :CORNER_PX] == (255, 0, 0)).all()
        assert (frame[:CORNER_PX, -CORNER_PX:] == (0, 255, 255)).all()


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--background", "#12345"], "--background '#12345': not plate, transparent, a colour"),
        (["--background", "300,0,0"], "--background '300,0,0': not plate, transparent, a colour"),
        (["--background", "missing.png"], "or an existing image file"),
        (["--background", "not_an_image.png"], "not an image OpenCV can read"),
        (["--background", "transparent", "--key-color", "bright"], "--key-color 'bright': give a colour"),
        (["--key-color", "#ff00ff"], "--key-color is for --background transparent"),
    ],
)
def test_bad_values_stop_the_run_before_anything_is_written(
    options: list[str],
    named: str,
    tiny_model_path: Path,
    clip_frames: Callable[[int, str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = clip_frames(1, "clip")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not_an_image.png").write_text("no picture here")
    outputs = ["--output", f"{tmp_path / 'frames'}/", "--output", str(tmp_path / "out.webm")]
    assert run_live(tiny_model_path, source, *options, *outputs) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and named in error[0], error
    assert not (tmp_path / "frames").exists() and not list(tmp_path.glob("out.webm*"))


def test_colours_are_read_in_every_form() -> None:
    assert parse_color("#00ff00") == parse_color("#0F0") == parse_color("0, 255, 0") == parse_color("green")
    assert parse_color("#ff8000") == (0, 128, 255)  # BGR
    assert [parse_color(text) for text in ("#ff80", "256,0,0", "greenish", "1,2")] == [None] * 4
    assert parse_background("plate") == Background() and not Background().matted
    assert parse_background("transparent", "#ff00ff").key_color_bgr == (255, 0, 255)
    with pytest.raises(UsageError, match="--key-color"):
        parse_background("#000000", "#ff00ff")


LEAN_FRAMES = (40, range(940, 976))  # clm_cap12: calibration frames, then the driver leaning down


@pytest.mark.skipif(not SHIPPED_MODEL.is_file(), reason="the shipped avatar is not in this clone")
def test_the_shipped_avatars_matte_follows_its_head(tmp_path: Path) -> None:
    """Driven by clm_cap12's first 40 frames (the driver's neutral), then its frames 940-975, where the driver
    leans down and the avatar's head sits about 0.1 face heights below the plate's. On each of the last 20 output
    frames, around the face MediaPipe finds there: the face oval and the hair up to the plate's hair thickness
    (less 0.06 face heights) are at least 99% opaque, the band from 0.06 to 0.12 face heights above that hair is
    99% transparent (a matte left where the plate's head was is opaque there), and the office's far top corners
    are transparent."""
    from live.engines.landmarks import LandmarkConfig, LandmarkDetector

    frames = transparent_frames(tmp_path, [*range(LEAN_FRAMES[0]), *LEAN_FRAMES[1]])
    hair_fh = plate_hair_face_heights(SHIPPED_MODEL)
    with LandmarkDetector(LandmarkConfig(static_image_mode=True)) as detector:
        for frame in frames[-20:]:
            landmarks_px = detector.detect(np.ascontiguousarray(frame[..., :3]))
            assert landmarks_px is not None
            alpha = frame[..., 3]
            assert opaque_share(alpha, landmarks_px[FACE_OUTLINE, :2]) >= 0.99
            assert opaque_share(alpha, band_above(landmarks_px, 0.0, hair_fh - 0.06)) >= 0.99
            assert transparent_share(alpha, band_above(landmarks_px, hair_fh + 0.06, hair_fh + 0.12)) >= 0.99
            assert alpha[:40, :40].max() == 0 and alpha[:40, -40:].max() == 0


def transparent_frames(tmp_path: Path, wanted: list[int]) -> list[np.ndarray]:
    """The shipped avatar's BGRA frames with a transparent background, driven by these frames of clm_cap12."""
    source = tmp_path / "driver"
    source.mkdir()
    capture = cv2.VideoCapture(str(REPOSITORY / "data" / "clm_cap12.mp4"))
    for index in range(max(wanted) + 1):
        ok, frame_bgr = capture.read()
        if ok and index in wanted:
            cv2.imwrite(str(source / f"{index:04d}.png"), frame_bgr)
    capture.release()
    out = tmp_path / "frames"
    options = ["--fps", "25", "--max-frames", "0", "--background", "transparent", "--output", f"{out}/"]
    assert run_live(SHIPPED_MODEL, source, *options) == 0
    frames = read_frames(out)
    assert len(frames) == len(wanted)
    return frames


RAISE_FRAMES = (40, range(805, 835))  # clm_cap12: calibration frames, then the driver's head raised and tilted


@pytest.mark.skipif(not SHIPPED_MODEL.is_file(), reason="the shipped avatar is not in this clone")
def test_the_shipped_avatars_neck_is_whole_between_jaw_and_collar(tmp_path: Path) -> None:
    """Driven by clm_cap12's first 40 frames, then its frames 805-834, where the avatar's chin sits about 0.07
    face heights above the plate's (the plate's neck, left with the body, starts below it). On each of the last 20
    output frames, below the chin MediaPipe finds there: the neck from the chin to 0.2 face heights down (where
    the body's matte is whole), 0.25 face heights either side of the face's axis (within the neck's width), is
    at least 99% opaque. (The generator paints the neck there; a matte that only moves the plate's head and
    leaves its body lets the background show through in a band under the jaw.)"""
    from live.engines.landmarks import LandmarkConfig, LandmarkDetector

    frames = transparent_frames(tmp_path, [*range(RAISE_FRAMES[0]), *RAISE_FRAMES[1]])
    with LandmarkDetector(LandmarkConfig(static_image_mode=True)) as detector:
        for frame in frames[-20:]:
            landmarks_px = detector.detect(np.ascontiguousarray(frame[..., :3]))
            assert landmarks_px is not None
            assert opaque_share(frame[..., 3], band_below_chin(landmarks_px, 0.2, 0.25)) >= 0.99


def band_below_chin(landmarks_px: np.ndarray, depth_fh: float, half_width_fh: float) -> np.ndarray:
    """A rectangle from the chin landmark down the face's axis by depth_fh face heights, half_width_fh either
    side of it."""
    from live.face.expression import FACE_TOP_BOTTOM

    top, chin = (landmarks_px[index, :2].astype(np.float64) for index in FACE_TOP_BOTTOM)
    height_px = float(np.linalg.norm(chin - top))
    down = (chin - top) / height_px
    across = np.array([-down[1], down[0]]) * half_width_fh * height_px
    bottom = chin + down * depth_fh * height_px
    return np.array([chin - across, chin + across, bottom + across, bottom - across])


def plate_hair_face_heights(model: Path) -> float:
    """How far the plate's person reaches above its face's top landmark, in face heights."""
    from live.engines.segmentation import PersonSegmenter
    from live.face.expression import FACE_TOP_BOTTOM
    from live.formats.card import read_plate_from_metadata

    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    metadata = session.get_modelmeta().custom_metadata_map
    card = read_card_from_metadata(metadata, str(model))
    plate_bgr = read_plate_from_metadata(metadata, card, str(model))
    transform = invert_transform(np.asarray(card.neutral_transform, dtype=np.float64))
    top, chin = apply_transform(transform, np.asarray(card.neutral_landmarks_px)[list(FACE_TOP_BOTTOM), :2])
    with PersonSegmenter() as segmenter:
        person = segmenter.person_mask(plate_bgr)
    up = (top - chin) / np.linalg.norm(top - chin)
    reach_px = 0
    while person[int(round(top[1] + up[1] * reach_px)), int(round(top[0] + up[0] * reach_px))]:
        reach_px += 1
    return reach_px / float(np.linalg.norm(top - chin))


def opaque_share(alpha: np.ndarray, polygon_px: np.ndarray) -> float:
    """The share of the polygon's pixels whose alpha is at least 250 of 255."""
    return float((inside(alpha, polygon_px) >= 250).mean())


def transparent_share(alpha: np.ndarray, polygon_px: np.ndarray) -> float:
    """The share of the polygon's pixels whose alpha is at most 5 of 255."""
    return float((inside(alpha, polygon_px) <= 5).mean())


def inside(alpha: np.ndarray, polygon_px: np.ndarray) -> np.ndarray:
    """The alpha values inside a polygon."""
    mask = np.zeros_like(alpha)
    cv2.fillPoly(mask, [np.round(polygon_px).astype(np.int32)], 1)
    return alpha[mask > 0]


def band_above(landmarks_px: np.ndarray, start_fh: float, end_fh: float) -> np.ndarray:
    """A quadrilateral above the face's top landmark, from start_fh to end_fh face heights above it along the
    face's axis, half the face's width wide."""
    from live.face.expression import FACE_TOP_BOTTOM

    top, chin = (landmarks_px[index, :2].astype(np.float64) for index in FACE_TOP_BOTTOM)
    up = (top - chin) / np.linalg.norm(top - chin)
    height_px, width_px = float(np.linalg.norm(top - chin)), float(np.ptp(landmarks_px[:, 0]))
    across = np.array([-up[1], up[0]]) * width_px / 4
    start, end = top + up * start_fh * height_px, top + up * end_fh * height_px
    return np.array([start - across, start + across, end + across, end - across])


@pytest.fixture(scope="module")
def portrait() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shipped portrait, its person mask and its face's landmarks (MediaPipe, its own pixels)."""
    from live.engines.landmarks import LandmarkConfig, LandmarkDetector
    from live.engines.segmentation import PersonSegmenter

    plate_bgr = cv2.imread(str(REPOSITORY / "data" / "grace_hopper.jpg"))
    with LandmarkDetector(LandmarkConfig(static_image_mode=True)) as detector:
        landmarks_px = detector.detect(plate_bgr)
    with PersonSegmenter() as segmenter:
        person_mask = segmenter.person_mask(plate_bgr)
    assert landmarks_px is not None
    return plate_bgr, person_mask, landmarks_px


def outside(polygon_px: np.ndarray, shape: tuple[int, int] = (600, 512)) -> np.ndarray:
    """Bool mask of the portrait's pixels more than 2 px outside a polygon."""
    inside = np.zeros(shape, dtype=np.uint8)
    cv2.fillPoly(inside, [np.round(polygon_px).astype(np.int32)], 1)
    return cv2.dilate(inside, np.ones((5, 5), np.uint8)) == 0


def moved(landmarks_px: np.ndarray, angle_deg: float, offset_px: tuple[float, float]) -> np.ndarray:
    """Landmarks turned by angle_deg about their middle and moved by offset_px."""
    centre = landmarks_px[:, :2].mean(axis=0)
    turn = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle_deg, 1.0)
    result = landmarks_px.copy()
    result[:, :2] = landmarks_px[:, :2] @ turn[:, :2].T + turn[:, 2] + offset_px
    return result


def test_the_matte_moves_with_the_head_and_the_body_as_their_pixels_do(
    portrait: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """HeadPlate moves the plate's head (and BodyPlate its person) by a warp; the matte must be moved by the same
    one: the plate's matte as an image, moved by HeadPlate, equals the matte wherever only the moved head shows,
    and the body's shift moves the matte below the head by exactly that shift."""
    from live.face.head_plate import HeadPlate
    from live.face.person_matte import PersonMatte

    plate_bgr, person_mask, plate_px = portrait
    head_plate = HeadPlate(plate_bgr, person_mask, plate_px)
    matte = PersonMatte(person_mask, head_plate, plate_px)
    assert np.array_equal(matte.matte(None, None), matte.person_u8)
    face_px = moved(plate_px, 5.0, (9.0, -7.0))
    alpha = matte.matte(None, face_px)
    matte_as_plate = cv2.merge([matte.person_u8] * 3)
    pixels_moved = HeadPlate(matte_as_plate, person_mask, plate_px).follow(face_px)[..., 0]
    head_alpha = cv2.warpAffine(head_plate.alpha, head_plate.head_transform(face_px), alpha.shape[::-1])
    only_head = (head_alpha >= 0.999) & (head_plate.alpha >= 0.999)  # the moved head over where the head was
    only_head &= outside(face_px[FACE_OUTLINE, :2])  # the face's oval is filled whatever the plate had there
    only_head &= outside(matte.neck_px(face_px, (0.0, 0.0)))  # and the neck the generator paints below it
    assert only_head.sum() > 10_000
    assert np.abs(alpha[only_head].astype(int) - pixels_moved[only_head]).max() <= 2
    y0, y1, x0, x1 = head_plate.box
    still = np.ones_like(alpha, dtype=bool)
    still[y0:y1, x0:x1] = False  # outside the head's box, the body as it was
    assert still.sum() > 10_000 and np.array_equal(alpha[still], matte.person_u8[still])
    shifted = matte.matte((4.0, 3.0), None)
    expected = np.roll(matte.person_u8, (3, 4), axis=(0, 1))
    assert np.array_equal(shifted[200:-10, 10:-10], expected[200:-10, 10:-10])


def test_the_matte_of_an_unmoved_head_is_the_plates_and_its_face_is_opaque(
    portrait: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    from live.face.head_plate import HeadPlate
    from live.face.person_matte import PersonMatte

    plate_bgr, person_mask, plate_px = portrait
    matte = PersonMatte(person_mask, HeadPlate(plate_bgr, person_mask, plate_px), plate_px)
    alpha = matte.matte(None, plate_px)
    outside_face = outside(plate_px[FACE_OUTLINE, :2])
    assert np.array_equal(alpha[outside_face], matte.person_u8[outside_face])
    assert opaque_share(alpha, plate_px[FACE_OUTLINE, :2]) >= 0.999


def test_the_neck_under_a_raised_and_tilted_head_is_opaque_and_no_wider_than_the_plates_person(
    portrait: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """The portrait's head tilted by 8 degrees and raised by 12 px: below its chin, 0.2 face heights down and
    0.2 either side (within her neck), the matte is 99% opaque (the plate's neck moved with the head, and the
    body's with the head's cut out, left a band across it); and nowhere is it more opaque than the plate's person
    moved with the body or with the head (no background beside the neck)."""
    from live.face.head_plate import HeadPlate
    from live.face.person_matte import PersonMatte

    plate_bgr, person_mask, plate_px = portrait
    head_plate = HeadPlate(plate_bgr, person_mask, plate_px)
    matte = PersonMatte(person_mask, head_plate, plate_px)
    face_px = moved(plate_px, -8.0, (-10.0, -12.0))
    alpha = matte.matte(None, face_px)
    assert opaque_share(alpha, band_below_chin(face_px, 0.2, 0.2)) >= 0.99
    with_head = cv2.warpAffine(matte.person_u8, head_plate.head_transform(face_px), alpha.shape[::-1])
    person = np.maximum(matte.person_u8, with_head).astype(int)
    outside_face = outside(face_px[FACE_OUTLINE, :2])
    assert (alpha[outside_face] - person[outside_face]).max() <= 2


def test_the_plate_matte_loses_specks_and_spikes_and_keeps_the_person() -> None:
    from live.face.person_matte import plate_matte

    mask = np.zeros((480, 640), dtype=np.uint8)
    cv2.circle(mask, (320, 200), 90, 1, -1)
    mask[300:, 150:490] = 1
    with_faults = mask.copy()
    with_faults[40:110, 318:321] = 1  # a 3 px spike off the head
    with_faults[20:26, 40:46] = 1  # a speck in the background
    alpha = plate_matte(with_faults)
    assert alpha[60:100, 315:325].max() < 0.05 and alpha[18:28, 38:48].max() < 0.05
    assert alpha[200, 320] == pytest.approx(1.0) and alpha[400, 300] == pytest.approx(1.0)
    edge = int(np.argmax(mask[200]))  # the edge is feathered where it was (within a pixel), over a few pixels
    assert alpha[200, edge - 3] < 0.05 and alpha[200, edge + 3] > 0.95
    assert alpha[200, edge - 1] < 0.5 <= alpha[200, edge + 1]
