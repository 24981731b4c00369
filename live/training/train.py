"""pix2pix training: U-Net generator, conditional PatchGAN, LSGAN + lambda * L1.

One code path for one process and for torchrun (DistributedDataParallel,
gloo on CPU, nccl on CUDA); mixed precision on CUDA. Rank 0 writes the
resolved config, checkpoints, sample grids and TensorBoard scalars.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch
import torch.distributed as distributed
from rich.console import Console

from live.errors import UsageError
from live.formats.dataset import Dataset, load_dataset
from live.progress import bar
from live.training.batches import Batches
from live.training.checkpoints import latest_checkpoint, save_checkpoint
from live.training.config import TrainConfig
from live.training.distributed import (
    StopRequest,
    agreed_stop,
    gather_random_states,
    setup_distributed,
    unwrap,
    write_rank_digest,
)
from live.training.local_discriminator import LocalDiscriminator, WithLocalDiscriminator
from live.training.losses import build_discriminator, generator_adversarial_losses
from live.training.losses import discriminator_loss as adversarial_discriminator_loss
from live.training.networks import GeneratorConfig, UnetGenerator
from live.training.run_state import TrainingRun, initialise_from, restore, training_state


def generator_config_for(config: TrainConfig, size_px: int) -> GeneratorConfig:
    return GeneratorConfig(size_px=size_px, ngf=config.ngf, use_plate=config.use_plate)


def background_plate(dataset: Dataset) -> torch.Tensor:
    """Median of the training frames in [-1, 1], (1, 3, S, S): the still background the generator paints over."""
    train = dataset.images_bgr[dataset.indices("train")]
    median = np.median(train, axis=0).astype(np.float32)
    return torch.from_numpy(median).permute(2, 0, 1)[None] / 127.5 - 1.0


def _build(config: TrainConfig, dataset: Dataset, rank: int, world_size: int, device: torch.device) -> TrainingRun:
    torch.manual_seed(config.seed)
    generator = UnetGenerator(generator_config_for(config, dataset.size_px), background_plate(dataset)).to(device)
    discriminator = build_discriminator(config.discriminator_scales, config.ndf)
    if config.local_discriminator > 0:
        discriminator = WithLocalDiscriminator(discriminator, LocalDiscriminator(config.ndf, dataset.size_px))
    discriminator = discriminator.to(device)
    if world_size > 1:
        generator = torch.nn.parallel.DistributedDataParallel(generator)
        discriminator = torch.nn.parallel.DistributedDataParallel(discriminator)
    betas = (config.beta1, 0.999)
    generator_optimizer = torch.optim.Adam(generator.parameters(), lr=config.learning_rate, betas=betas)
    discriminator_optimizer = torch.optim.Adam(discriminator.parameters(), lr=config.learning_rate, betas=betas)
    decay_start = int(config.steps * config.decay_start_fraction)

    def factor(step: int) -> float:
        return 1.0 if step < decay_start else max(0.0, 1.0 - (step - decay_start) / max(1, config.steps - decay_start))

    schedulers = [
        torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        for optimizer in (generator_optimizer, discriminator_optimizer)
    ]
    random = torch.Generator().manual_seed(config.seed * 1000 + rank)
    return TrainingRun(
        config,
        dataset,
        generator,
        discriminator,
        generator_optimizer,
        discriminator_optimizer,
        schedulers,
        random,
        device,
        rank,
        world_size,
    )


def _to_tensor(images_bgr: np.ndarray, device: torch.device) -> torch.Tensor:
    return (torch.from_numpy(images_bgr).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1.0).contiguous()


def _train_step(run: TrainingRun, batches: Batches, scaler: torch.amp.GradScaler) -> dict[str, float]:
    sketch, real, weight, plate, centres_px = batches.sample(run)
    local = unwrap(run.discriminator).local if centres_px is not None else None
    autocast = torch.autocast(run.device.type, enabled=run.device.type == "cuda")
    with autocast:
        fake = run.generator(sketch, plate)
        discriminator_loss = adversarial_discriminator_loss(run.discriminator, sketch, real, fake)
        if local is not None:
            discriminator_loss = discriminator_loss + local.discriminator_loss(sketch, real, fake, centres_px)
    run.discriminator_optimizer.zero_grad(set_to_none=True)
    scaler.scale(discriminator_loss).backward()
    scaler.step(run.discriminator_optimizer)
    with autocast:
        gan_loss, matching_loss = generator_adversarial_losses(run.discriminator, sketch, real, fake)
        l1_loss = (weight * (fake - real).abs()).mean() / weight.mean()
        generator_loss = gan_loss + run.config.lambda_feature_matching * matching_loss + run.config.lambda_l1 * l1_loss
        local_loss = local.generator_loss(sketch, fake, centres_px) if local is not None else None
        if local_loss is not None:
            generator_loss = generator_loss + run.config.local_discriminator * local_loss
    run.generator_optimizer.zero_grad(set_to_none=True)
    scaler.scale(generator_loss).backward()
    scaler.step(run.generator_optimizer)
    scaler.update()
    for scheduler in run.schedulers:
        scheduler.step()
    run.step += 1
    losses = {"loss/discriminator": discriminator_loss.item(), "loss/gan": gan_loss.item(), "loss/l1": l1_loss.item()}
    losses |= {"loss/local_gan": local_loss.item()} if local_loss is not None else {}
    return losses | ({"loss/feature_matching": matching_loss.item()} if run.config.discriminator_scales > 1 else {})


def _sample_grid(run: TrainingRun, path: Path, count: int = 4) -> None:
    """sketch | real | generated on validation frames (training frames when there is no validation split)."""
    indices = run.dataset.indices("val")
    indices = indices if indices.size else run.dataset.indices("train")
    chosen = indices[np.linspace(0, len(indices) - 1, min(count, len(indices))).astype(int)]
    generator = unwrap(run.generator)
    plates = np.stack([run.dataset.plate_crop(i) for i in chosen])
    with torch.no_grad():
        fake = generator(_to_tensor(run.dataset.sketches_bgr[chosen], run.device), _to_tensor(plates, run.device))
    fake_bgr = ((fake.permute(0, 2, 3, 1).cpu().numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
    rows = [
        np.hstack([run.dataset.sketches_bgr[i], run.dataset.images_bgr[i], fake_bgr[row]])
        for row, i in enumerate(chosen)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack(rows))


def _open_tensorboard(folder: Path, first_step: int):
    """A TensorBoard writer whose events start at first_step: the events a stopped or killed run logged from
    there on are discarded (purge_step), so a resumed run shows each step once. None without tensorboard."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder), purge_step=first_step)


def _checkpoint(run: TrainingRun, folder: Path) -> Path | None:
    """Save on rank 0 with every rank's RNG state (all ranks must call this); the path on rank 0."""
    random_states = gather_random_states(run.random, run.world_size)
    return (
        save_checkpoint(folder, run.step, training_state(run, random_states), run.config.keep_last)
        if run.rank == 0
        else None
    )


class StopWhen(Protocol):
    """Asked before each step whether to stop there (`live make`'s time budget); expected_end_step() is the step
    it expects to stop at, which the progress bar counts to."""

    def __call__(self, step: int) -> bool: ...

    def expected_end_step(self) -> int: ...


@dataclass(frozen=True, slots=True)
class TrainResult:
    """How a run ended: its last checkpoint, the step reached, and whether a signal stopped it early."""

    last_checkpoint: Path | None
    step: int
    steps: int
    interrupted: bool


def _write_config(run: TrainingRun, out: Path) -> None:
    """The resolved configuration beside the checkpoints (rank 0)."""
    out.mkdir(parents=True, exist_ok=True)
    resolved = {
        "train": asdict(run.config),
        "generator": unwrap(run.generator).config.to_dict(),
        "world_size": run.world_size,
        "device": str(run.device),
        "torch": torch.__version__,
    }
    (out / "config.json").write_text(json.dumps(resolved, indent=1))


def _start(config: TrainConfig, resume: bool, console: Console) -> tuple[TrainingRun, Path | None]:
    """Build the run, restoring the last checkpoint with --resume; (run, that checkpoint or None)."""
    rank, world_size, device = setup_distributed()
    if config.threads:
        torch.set_num_threads(config.threads)
    checkpoints = Path(config.out) / "checkpoints"
    existing = latest_checkpoint(checkpoints)
    if existing and not resume:
        raise UsageError(f"{config.out} already has checkpoints: add --resume to continue it, or choose another --out")
    dataset = load_dataset(Path(config.dataset))
    config.check_crop_size(dataset.size_px)
    run = _build(config, dataset, rank, world_size, device)
    if resume and existing:
        restore(run, existing)
        console.print(f"resumed {existing.name} at step {run.step}", markup=False)
    elif resume:
        console.print(f"--resume: no checkpoint in {checkpoints}, starting from step 0", markup=False)
    if config.init_from and not existing:
        console.print(f"--init-from: {initialise_from(run, Path(config.init_from))}", markup=False)
    return run, existing


def _loop(
    run: TrainingRun, end_step: int, last_path: Path | None, console: Console, stop_when: StopWhen | None
) -> tuple[Path | None, bool]:
    """Train to end_step, a stop signal or stop_when(step); checkpoint on schedule and where it stopped.
    (last path, interrupted by a signal)."""
    out, config = Path(run.config.out), run.config
    batches = Batches(run)
    scaler = torch.amp.GradScaler(run.device.type, enabled=run.device.type == "cuda")
    writer = _open_tensorboard(out / "tensorboard", run.step + 1) if run.rank == 0 else None  # logs from step+1
    saved_step = run.step if last_path else -1
    sample = ""
    with StopRequest() as stop, bar(console, enabled=run.rank == 0) as progress:
        total = end_step if stop_when is None else stop_when.expected_end_step()
        task = progress.add_task("train", total=total, completed=run.step, note="")
        while run.step < end_step and not agreed_stop(
            stop.requested or (stop_when is not None and stop_when(run.step)), run.world_size, run.device
        ):
            losses = _train_step(run, batches, scaler)
            text = " ".join(f"{key.split('/')[1]} {value:.3f}" for key, value in losses.items())
            total = end_step if stop_when is None else stop_when.expected_end_step()
            progress.update(task, completed=run.step, total=total, note=text + sample)
            for key, value in losses.items() if writer is not None else ():
                writer.add_scalar(key, value, run.step)
            if run.rank == 0 and run.step % config.sample_every == 0:
                _sample_grid(run, out / "samples" / f"step_{run.step:08d}.png")
                sample = f", sample {out / 'samples' / f'step_{run.step:08d}.png'}"
            if run.step % config.checkpoint_every == 0:
                last_path, saved_step = _checkpoint(run, out / "checkpoints") or last_path, run.step
        if saved_step != run.step:
            last_path = _checkpoint(run, out / "checkpoints") or last_path
            if run.rank == 0:
                _sample_grid(run, out / "samples" / f"step_{run.step:08d}.png")
    if writer is not None:
        writer.close()
    return last_path, stop.requested and run.step < end_step


def train(
    config: TrainConfig,
    resume: bool = False,
    console: Console | None = None,
    stop_at_step: int | None = None,
    stop_when: StopWhen | None = None,
) -> TrainResult:
    """Train (or resume) a run, showing progress (live.progress: a bar, or lines in a log).

    stop_at_step: checkpoint and return at that step, as an interruption would
    (the schedule still follows config.steps, so a resume continues exactly).
    stop_when(step), asked before each step, may end the run there the same way (`live make`'s time budget).
    A SIGINT/SIGTERM saves where the run is and returns with `interrupted` set.
    """
    console = console or Console(stderr=True)
    run, existing = _start(config, resume, console)
    if run.rank == 0:
        _write_config(run, Path(config.out))
    started_s, started_step = time.perf_counter(), run.step
    end_step = config.steps if stop_at_step is None else min(config.steps, stop_at_step)
    last_path, interrupted = _loop(run, end_step, existing, console, stop_when)
    steps_per_s = (run.step - started_step) / max(1e-9, time.perf_counter() - started_s)
    if run.world_size > 1:
        write_rank_digest(run.generator, run.rank, run.step, Path(config.out))
        distributed.barrier()
        distributed.destroy_process_group()
    message = "done" if run.step >= config.steps else "stopped early, saved"
    if run.rank == 0:
        console.print(
            f"{message}: step {run.step}/{config.steps} ({steps_per_s:.2f} steps/s), checkpoint {last_path}",
            markup=False,
        )
    return TrainResult(last_path, run.step, config.steps, interrupted)
