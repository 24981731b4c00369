"""Training batches: which frames, which jitter, which sketch variant and whose eyes, drawn with the run's RNG."""

from __future__ import annotations

from typing import NamedTuple

import torch

from live.engines.segmentation import head_plates
from live.errors import UsageError
from live.face.coverage import sample_weights
from live.face.head_plate import plate_head_landmarks
from live.face.teeth import teeth_shares
from live.training.augment import CropSampler, jitter_thetas
from live.training.eye_mixing import EyeMixer
from live.training.local_discriminator import jittered_centres_px, part_centres_px
from live.training.losses import expression_weight_maps
from live.training.run_state import TrainingRun
from live.training.shape_augment import shape_variant_sketches


class Batch(NamedTuple):
    """One training batch in [-1, 1]; part_centres_px: (B, 3, 2) eye and mouth centres in the jittered crop
    (live.training.local_discriminator), None unless the run uses the local discriminator."""

    sketch: torch.Tensor
    real: torch.Tensor
    weight: torch.Tensor
    plate: torch.Tensor
    part_centres_px: torch.Tensor | None = None


class Batches:
    """Training tensors kept on the device; each batch is sampled and its crop jittered with the run's own RNG
    (live.training.augment.CropSampler: sketch, real crop, weights and plate move together)."""

    def __init__(self, run: TrainingRun) -> None:
        indices = run.dataset.indices("train")
        if indices.size == 0:
            raise UsageError(f"{run.dataset.path} has no training frames: prepare a longer video")
        self.indices = torch.from_numpy(indices)
        self.sampler = CropSampler(run.dataset, indices, run.config.face_weight, run.device)
        self.sampler.weights *= expression_weight_maps(
            run.dataset.landmarks_px[indices], run.dataset.size_px, run.config.region_weight
        ).to(run.device)
        self.probabilities = torch.from_numpy(sample_weights(run.dataset.landmarks_px[indices]))
        self.part_centres_px = (
            part_centres_px(run.dataset.landmarks_px[indices]) if run.config.local_discriminator > 0 else None
        )
        if run.config.head_follow and run.config.use_plate:
            self.sampler.use_head_plates(head_plates(run.dataset.plates_bgr, plate_head_landmarks(run.dataset)))
        if run.config.mix_eyes > 0:
            self.sampler.eye_mixer = EyeMixer.of_frames(run.dataset, indices, run.config.mix_eyes)
        if run.config.shape_augment > 0:
            self.sampler.use_sketch_variants(
                shape_variant_sketches(
                    run.dataset.landmarks_px[indices],
                    teeth_shares(run.dataset.images_bgr, run.dataset.landmarks_px, indices),
                    run.dataset.size_px,
                    run.config.shape_variants,
                    run.config.shape_augment,
                    run.config.seed,
                    run.config.shape_augment_lids,
                )
            )

    def sample(self, run: TrainingRun) -> Batch:
        """sketch, real image, L1 weights and background plate, all under the same random crop jitter (and the
        eye and mouth centres under it, for the local discriminator)."""
        chosen = (
            torch.multinomial(self.probabilities, run.config.batch_size, replacement=True, generator=run.random)
            if run.config.balance_expressions
            else torch.randint(len(self.indices), (run.config.batch_size,), generator=run.random)
        )
        thetas = jitter_thetas(len(chosen), run.config, run.random)
        variants = partners = None  # drawn only when used, so runs without them keep their random sequence
        if self.sampler.sketch_variants > 1:
            variants = torch.randint(self.sampler.sketch_variants, (len(chosen),), generator=run.random)
        if mixer := self.sampler.eye_mixer:
            partners = mixer.draw(len(chosen), run.random)
        centres_px = None
        if self.part_centres_px is not None:
            centres_px = jittered_centres_px(self.part_centres_px[chosen], thetas, run.dataset.size_px).to(run.device)
        return Batch(*self.sampler.sample(chosen, thetas, variants, partners), centres_px)
