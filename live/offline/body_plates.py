"""`live eval` with the body and the plate's head following.

Each validation frame's plate has its person moved to where the real frame's body is, measured as `live run`
measures a driver's (live.face.body), with the plate as the reference: in self-reenactment the driver is the
target, and the plate is its body's neutral place. Then the plate's head is bent onto the frame's own face
(live.face.head_plate), as `live run` bends it onto the avatar's."""

from __future__ import annotations

import numpy as np

from live.engines.segmentation import PersonSegmenter, head_plates
from live.face.body import BodyPlate, BodyRegistration, body_band, clamped_shift
from live.face.head_plate import in_plate, plate_head_landmarks
from live.formats.dataset import Dataset


def frame_plates(
    dataset: Dataset, indices: np.ndarray, real_bgr: np.ndarray, body_follow: bool, head_follow: bool = False
) -> tuple[list[np.ndarray], list[tuple[float, float] | None]]:
    """Per frame: its video's plate, with the person shifted to the real frame's body when `body_follow` and
    the plate's head bent onto the frame's own face when `head_follow` (live.face.head_plate, as `live run`
    bends it onto the avatar's); and the shift (None: not measured, the still plate)."""
    plates = [dataset.plates_bgr[int(dataset.video_indices[i])] for i in indices]
    shifts: list[tuple[float, float] | None] = [None] * len(indices)
    if body_follow:
        with PersonSegmenter() as segmenter:
            masks = [segmenter.person_mask(plate) for plate in dataset.plates_bgr]
        plates, shifts = _body_plates(dataset, indices, real_bgr, masks)
    if head_follow:
        followers = head_plates(dataset.plates_bgr, plate_head_landmarks(dataset))
        for k, index in enumerate(indices):
            landmarks_px = in_plate(dataset.landmarks_px[index], dataset.transforms[index])
            plates[k] = followers[int(dataset.video_indices[index])].follow(landmarks_px, plates[k], shifts[k])
    return plates, shifts


def _body_plates(
    dataset: Dataset, indices: np.ndarray, real_bgr: np.ndarray, masks: list[np.ndarray]
) -> tuple[list[np.ndarray], list[tuple[float, float] | None]]:
    body_plates = [BodyPlate(plate, mask) for plate, mask in zip(dataset.plates_bgr, masks)]
    plates, shifts = [], []
    for index, image_bgr in zip(indices, real_bgr):
        video = int(dataset.video_indices[index])
        plate = dataset.plates_bgr[video]
        landmarks_px = in_plate(dataset.landmarks_px[index], dataset.transforms[index])
        band = body_band(plate.shape, landmarks_px)
        registration = None if band is None else BodyRegistration(plate, masks[video], band)
        shift = registration.measure(image_bgr) if registration is not None and registration.usable else None
        if shift is not None:
            shift = clamped_shift(shift, plate.shape[0])
        plates.append(plate if shift is None else body_plates[video].shifted(shift))
        shifts.append(shift)
    return plates, shifts
