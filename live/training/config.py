"""The training configuration: the one definition `live train`'s options are derived from."""

from __future__ import annotations

import math
from dataclasses import Field, dataclass, field, fields

from live.errors import UsageError

# Most a loss weight may be: far above any useful value, and far below where float16 training overflows.
MAXIMUM_WEIGHT = 1e4


def _option(
    default: object,
    help_text: str,
    minimum: float | None = None,
    flag: str | None = None,
    maximum: float | None = None,
) -> object:
    return field(default=default, metadata={"help": help_text, "minimum": minimum, "maximum": maximum, "flag": flag})


def _check_range(spec: Field, value: object) -> None:
    """UsageError (naming the option) for a number that is not finite or outside the field's limits."""
    flag = "--" + spec.name.replace("_", "-")
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{flag} {value}: give a finite number")
    minimum, maximum = spec.metadata.get("minimum"), spec.metadata.get("maximum")
    below, above = minimum is not None and value < minimum, maximum is not None and value > maximum
    if (below or above) and minimum is not None and maximum is not None:
        what = "a share" if spec.metadata["help"].startswith("share") else "a value"
        raise UsageError(f"{flag} {value}: give {what} from {minimum:g} to {maximum:g}")
    if below or above:
        raise UsageError(f"{flag} {value}: must be {minimum if below else maximum:g} or {'more' if below else 'less'}")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run depends on; written to RUN/config.json. Field metadata gives each CLI option's help."""

    dataset: str
    out: str
    ngf: int = _option(16, "generator width (channels of the first layer)", 1)
    ndf: int = _option(32, "discriminator width", 1)
    steps: int = _option(2000, "training length in steps", 1)
    batch_size: int = _option(1, "frames per step", 1)
    learning_rate: float = _option(2e-4, "Adam learning rate (more than 0)", maximum=1.0)
    beta1: float = _option(0.5, "Adam beta1 (less than 1)", 0.0)
    lambda_l1: float = _option(100.0, "weight of the L1 loss against the GAN loss", 0.0, maximum=MAXIMUM_WEIGHT)
    face_weight: float = _option(3.0, "extra L1 weight inside the face region", 1.0, maximum=MAXIMUM_WEIGHT)
    region_weight: float = _option(
        3.0,
        "L1 weight on the eyes and the mouth, times the face weight (3: measured better than 1)",
        1.0,
        maximum=MAXIMUM_WEIGHT,
    )
    discriminator_scales: int = _option(
        1, "1: pix2pix's PatchGAN; 2-3: pix2pixHD's multi-scale discriminator with feature matching", 1, maximum=3
    )
    lambda_feature_matching: float = _option(
        10.0, "weight of discriminator feature matching (2+ scales)", 0.0, maximum=MAXIMUM_WEIGHT
    )
    local_discriminator: float = _option(
        0.0,
        "weight of a local PatchGAN on eye and mouth patches, against the global GAN loss (0: off)",
        0.0,
        maximum=MAXIMUM_WEIGHT,
    )
    balance_expressions: bool = _option(
        False, "draw training frames balanced over eyes closed / mouth open / smiling / head turned"
    )
    decay_start_fraction: float = _option(
        0.5, "share of the steps after which the learning rate decays to 0", 0.0, maximum=1.0
    )
    augment_shift: float = _option(0.02, "random shift, as a share of the frame", 0.0, maximum=0.5)
    augment_scale: float = _option(0.03, "random scale change, as a share", 0.0, maximum=0.5)
    augment_rotate_deg: float = _option(2.0, "random rotation in degrees", 0.0, maximum=180.0)
    shape_augment: float = _option(
        0.0,
        "lip thickness and lid curve varied by up to this log-factor in training sketches (0: off)",
        0.0,
        maximum=1.0,
    )
    shape_variants: int = _option(8, "sketches drawn per frame with --shape-augment (the first unchanged)", 1)
    shape_augment_lids: bool = _option(
        True, "with --shape-augment, vary the lid curves as well as the lips", flag="--no-shape-augment-lids"
    )
    mix_eyes: float = _option(
        0.0,
        "share of training frames whose eyes and brows come from another frame (sketch and photo; 0: off)",
        0.0,
        maximum=1.0,
    )
    flip: bool = _option(False, "random horizontal flips (off: a fixed scene is not symmetric)")
    use_plate: bool = _option(
        True, "paint the person over a background plate (off: paint the whole frame)", flag="--no-plate"
    )
    head_follow: bool = _option(
        False,
        "bend the plate's head onto each training frame's face, as `live run` bends it onto the avatar's (off: the "
        "still plate, which kept a trained avatar's teeth; docs/experiments.md)",
    )
    checkpoint_every: int = _option(200, "steps between checkpoints", 1)
    keep_last: int = _option(3, "checkpoints kept", 1)
    sample_every: int = _option(200, "steps between sample grids", 1)
    init_from: str = _option(
        "", "start from the weights of another run's checkpoint (RUN/checkpoints/step_N.pt), with fresh optimisers"
    )
    seed: int = _option(0, "random seed")
    threads: int = _option(0, "torch CPU threads (0: torch's default)", 0)

    def __post_init__(self) -> None:
        for spec in fields(self):
            _check_range(spec, getattr(self, spec.name))
        if self.learning_rate <= 0:
            raise UsageError(f"--learning-rate {self.learning_rate}: must be more than 0")
        if self.beta1 >= 1:
            raise UsageError(f"--beta1 {self.beta1}: must be less than 1")

    def check_crop_size(self, size_px: int) -> None:
        """UsageError unless the discriminator can judge crops of size_px: each extra scale halves them, and a
        PatchGAN needs 32 px."""
        smallest_px = 32 * 2 ** (self.discriminator_scales - 1)
        if size_px < smallest_px:
            raise UsageError(
                f"--discriminator-scales {self.discriminator_scales} needs crops of {smallest_px} px or more, the "
                f"dataset's are {size_px} px: give fewer scales or a dataset prepared with a larger --size"
            )
