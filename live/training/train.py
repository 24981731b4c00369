"""pix2pix training: U-Net generator, conditional PatchGAN, LSGAN + lambda * L1.

One code path for one process and for torchrun (DistributedDataParallel,
gloo on CPU, nccl on CUDA); mixed precision on CUDA. Rank 0 writes the
resolved config, checkpoints, sample grids and TensorBoard scalars.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.distributed as distributed
import torch.nn.functional as functional
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from live.errors import UsageError
from live.formats.dataset import Dataset, load_dataset
from live.training.augment import face_weight_maps, random_affine
from live.training.checkpoints import latest_checkpoint, load_checkpoint, save_checkpoint
from live.training.networks import GeneratorConfig, PatchDiscriminator, UnetGenerator


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run depends on; written to RUN/config.json."""

    dataset: str
    out: str
    ngf: int = 16
    ndf: int = 32
    steps: int = 2000
    batch_size: int = 1
    learning_rate: float = 2e-4
    beta1: float = 0.5
    lambda_l1: float = 100.0
    face_weight: float = 3.0
    decay_start_fraction: float = 0.5
    augment_shift: float = 0.02
    augment_scale: float = 0.03
    augment_rotate_deg: float = 2.0
    flip: bool = False
    use_plate: bool = True
    checkpoint_every: int = 200
    keep_last: int = 3
    sample_every: int = 200
    seed: int = 0
    threads: int = 0


@dataclass
class _Run:
    config: TrainConfig
    dataset: Dataset
    generator: torch.nn.Module
    discriminator: torch.nn.Module
    generator_optimizer: torch.optim.Optimizer
    discriminator_optimizer: torch.optim.Optimizer
    schedulers: list
    random: torch.Generator
    device: torch.device
    rank: int
    world_size: int
    step: int = 0


def generator_config_for(config: TrainConfig, size_px: int) -> GeneratorConfig:
    return GeneratorConfig(size_px=size_px, ngf=config.ngf, use_plate=config.use_plate)


def background_plate(dataset: Dataset) -> torch.Tensor:
    """Median of the training frames in [-1, 1], (1, 3, S, S): the still background the generator paints over."""
    train = dataset.images_bgr[dataset.indices("train")]
    median = np.median(train, axis=0).astype(np.float32)
    return torch.from_numpy(median).permute(2, 0, 1)[None] / 127.5 - 1.0


def _setup_distributed() -> tuple[int, int, torch.device]:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = (
        torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        if torch.cuda.is_available()
        else torch.device("cpu")
    )
    if world_size > 1 and not distributed.is_initialized():
        distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return rank, world_size, device


def _build(config: TrainConfig, dataset: Dataset, rank: int, world_size: int, device: torch.device) -> _Run:
    torch.manual_seed(config.seed)
    generator = UnetGenerator(generator_config_for(config, dataset.size_px), background_plate(dataset)).to(device)
    discriminator = PatchDiscriminator(config.ndf).to(device)
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
    return _Run(
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


def _random_states(run: _Run) -> list[torch.Tensor]:
    """Every rank's sampling RNG state (a collective call: all ranks must make it)."""
    if run.world_size == 1:
        return [run.random.get_state()]
    gathered: list = [None] * run.world_size
    distributed.all_gather_object(gathered, run.random.get_state())
    return gathered


def _state(run: _Run, random_states: list[torch.Tensor]) -> dict:
    unwrap = lambda module: getattr(module, "module", module)  # noqa: E731
    return {
        "step": run.step,
        "config": asdict(run.config),
        "generator_config": unwrap(run.generator).config.to_dict(),
        "generator": unwrap(run.generator).state_dict(),
        "discriminator": unwrap(run.discriminator).state_dict(),
        "generator_optimizer": run.generator_optimizer.state_dict(),
        "discriminator_optimizer": run.discriminator_optimizer.state_dict(),
        "schedulers": [scheduler.state_dict() for scheduler in run.schedulers],
        "random_per_rank": random_states,
        "torch_random": torch.get_rng_state(),
    }


# Settings that may change between an interrupted run and its --resume.
RESUMABLE_CHANGES = ("out", "dataset", "threads", "checkpoint_every", "sample_every", "keep_last", "steps")


def _check_same_settings(config: TrainConfig, saved: dict, path: Path) -> None:
    """--resume continues exactly only with the run's own settings: refuse others, naming them."""
    current = asdict(config)
    changed = [
        f"--{key.replace('_', '-')} {current[key]} (the run has {saved[key]})"
        for key in current
        if key not in RESUMABLE_CHANGES and key in saved and saved[key] != current[key]
    ]
    if Path(saved.get("dataset", config.dataset)).resolve() != Path(config.dataset).resolve():
        changed.append(f"dataset {config.dataset} (the run has {saved['dataset']})")
    if saved.get("steps", config.steps) != config.steps:
        print(
            f"note: --steps {config.steps} (the run had {saved['steps']}): the learning-rate decay now follows the new length",
            file=sys.stderr,
        )
    if changed:
        raise UsageError(
            f"--resume with other settings than {path.parent.parent}/config.json: {'; '.join(changed)}: repeat the run's settings"
        )


def _restore(run: _Run, path: Path) -> None:
    state = load_checkpoint(path)
    unwrap = lambda module: getattr(module, "module", module)  # noqa: E731
    expected = unwrap(run.generator).config.to_dict()
    if state.get("generator_config") != expected:
        raise UsageError(
            f"{path} is a checkpoint of another architecture ({state.get('generator_config')}, this run is {expected}): use a new --out or the same settings"
        )
    _check_same_settings(run.config, state.get("config", {}), path)
    try:
        unwrap(run.generator).load_state_dict(state["generator"])
        unwrap(run.discriminator).load_state_dict(state["discriminator"])
    except RuntimeError as error:
        raise UsageError(f"{path} does not fit this network ({str(error).splitlines()[0]}): use a new --out") from error
    run.generator_optimizer.load_state_dict(state["generator_optimizer"])
    run.discriminator_optimizer.load_state_dict(state["discriminator_optimizer"])
    for scheduler, scheduler_state in zip(run.schedulers, state["schedulers"]):
        scheduler.load_state_dict(scheduler_state)
    run.step = int(state["step"])
    random_states = state["random_per_rank"]
    if len(random_states) == run.world_size:
        run.random.set_state(random_states[run.rank])
    else:  # another number of processes: a fresh, distinct stream per rank
        run.random.manual_seed(run.config.seed * 1000 + run.rank + 7919 * run.step)
    torch.set_rng_state(state["torch_random"])


def _to_tensor(images_bgr: np.ndarray, device: torch.device) -> torch.Tensor:
    return (torch.from_numpy(images_bgr).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1.0).contiguous()


class _Batches:
    """Training tensors kept on the device; each batch is sampled and augmented with the run's own RNG."""

    def __init__(self, run: _Run) -> None:
        indices = run.dataset.indices("train")
        if indices.size == 0:
            raise UsageError(f"{run.dataset.path} has no training frames: prepare a longer video")
        self.indices = torch.from_numpy(indices)
        self.sketches = _to_tensor(run.dataset.sketches_bgr[indices], run.device)
        self.images = _to_tensor(run.dataset.images_bgr[indices], run.device)
        self.weights = face_weight_maps(
            run.dataset.landmarks_px[indices], run.dataset.size_px, run.config.face_weight
        ).to(run.device)

    def sample(self, run: _Run) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """sketch, real image, L1 weights and background plate, all under the same random affine."""
        chosen = torch.randint(len(self.indices), (run.config.batch_size,), generator=run.random)
        plate = getattr(run.generator, "module", run.generator).plate.expand(len(chosen), -1, -1, -1)
        stacked = torch.cat([self.sketches[chosen], self.images[chosen], self.weights[chosen], plate], dim=1)
        stacked = random_affine(stacked, run.config, run.random)
        return stacked[:, :3], stacked[:, 3:6], stacked[:, 6:7], stacked[:, 7:10]


def _train_step(run: _Run, batches: _Batches, scaler: torch.amp.GradScaler) -> dict[str, float]:
    sketch, real, weight, plate = batches.sample(run)
    autocast = torch.autocast(run.device.type, enabled=run.device.type == "cuda")
    with autocast:
        fake = run.generator(sketch, plate)
        prediction_fake = run.discriminator(sketch, fake.detach())
        prediction_real = run.discriminator(sketch, real)
        discriminator_loss = 0.5 * (
            functional.mse_loss(prediction_fake, torch.zeros_like(prediction_fake))
            + functional.mse_loss(prediction_real, torch.ones_like(prediction_real))
        )
    run.discriminator_optimizer.zero_grad(set_to_none=True)
    scaler.scale(discriminator_loss).backward()
    scaler.step(run.discriminator_optimizer)
    with autocast:
        prediction = run.discriminator(sketch, fake)
        gan_loss = functional.mse_loss(prediction, torch.ones_like(prediction))
        l1_loss = (weight * (fake - real).abs()).mean() / weight.mean()
        generator_loss = gan_loss + run.config.lambda_l1 * l1_loss
    run.generator_optimizer.zero_grad(set_to_none=True)
    scaler.scale(generator_loss).backward()
    scaler.step(run.generator_optimizer)
    scaler.update()
    for scheduler in run.schedulers:
        scheduler.step()
    run.step += 1
    return {"loss/discriminator": discriminator_loss.item(), "loss/gan": gan_loss.item(), "loss/l1": l1_loss.item()}


def _sample_grid(run: _Run, path: Path, count: int = 4) -> None:
    """sketch | real | generated on validation frames (training frames when there is no validation split)."""
    indices = run.dataset.indices("val")
    indices = indices if indices.size else run.dataset.indices("train")
    chosen = indices[np.linspace(0, len(indices) - 1, min(count, len(indices))).astype(int)]
    generator = getattr(run.generator, "module", run.generator)
    with torch.no_grad():
        fake = generator(_to_tensor(run.dataset.sketches_bgr[chosen], run.device))
    fake_bgr = ((fake.permute(0, 2, 3, 1).cpu().numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
    rows = [
        np.hstack([run.dataset.sketches_bgr[i], run.dataset.images_bgr[i], fake_bgr[row]])
        for row, i in enumerate(chosen)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack(rows))


def _open_tensorboard(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder))


class _StopRequest:
    """SIGINT/SIGTERM ask the loop to stop after the current step; the loop then saves and exits."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = {}

    def __enter__(self) -> "_StopRequest":
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            self._previous[signal_number] = signal.signal(signal_number, self._handle)
        return self

    def _handle(self, signal_number: int, frame: object) -> None:
        self.requested = True

    def __exit__(self, *exc_info: object) -> None:
        for signal_number, handler in self._previous.items():
            signal.signal(signal_number, handler)


def _agreed_stop(run: _Run, requested: bool) -> bool:
    """Stop only when all ranks stop at the same step (a rank leaving alone would hang the others)."""
    if run.world_size == 1:
        return requested
    flag = torch.tensor([1.0 if requested else 0.0], device=run.device)
    distributed.all_reduce(flag, op=distributed.ReduceOp.MAX)
    return bool(flag.item() > 0)


def _checkpoint(run: _Run, folder: Path) -> Path | None:
    """Save on rank 0 with every rank's RNG state (all ranks must call this); the path on rank 0."""
    random_states = _random_states(run)
    return (
        save_checkpoint(folder, run.step, _state(run, random_states), run.config.keep_last) if run.rank == 0 else None
    )


def _write_rank_digest(run: _Run, out: Path) -> None:
    """Each rank records a digest of its generator weights, so identical replicas can be checked."""
    digest = hashlib.sha256()
    for tensor in getattr(run.generator, "module", run.generator).state_dict().values():
        digest.update(tensor.detach().cpu().numpy().tobytes())
    (out / "ranks").mkdir(parents=True, exist_ok=True)
    (out / "ranks" / f"{run.rank}.json").write_text(
        json.dumps({"step": run.step, "generator_sha256": digest.hexdigest()})
    )


def train(
    config: TrainConfig, resume: bool = False, console: Console | None = None, stop_at_step: int | None = None
) -> Path:
    """Train (or resume) a run; returns the path of the last checkpoint.

    stop_at_step: checkpoint and return at that step, as an interruption would
    (the schedule still follows config.steps, so a resume continues exactly).
    """
    console = console or Console(stderr=True)
    rank, world_size, device = _setup_distributed()
    if config.threads:
        torch.set_num_threads(config.threads)
    out = Path(config.out)
    checkpoints = out / "checkpoints"
    existing = latest_checkpoint(checkpoints)
    if existing and not resume:
        raise UsageError(f"{out} already has checkpoints: add --resume to continue it, or choose another --out")
    dataset = load_dataset(Path(config.dataset))
    run = _build(config, dataset, rank, world_size, device)
    if resume and existing:
        _restore(run, existing)
        console.print(f"resumed {existing.name} at step {run.step}")
    batches = _Batches(run)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
    writer = None
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(
            json.dumps(
                {
                    "train": asdict(config),
                    "generator": getattr(run.generator, "module", run.generator).config.to_dict(),
                    "world_size": world_size,
                    "device": str(device),
                    "torch": torch.__version__,
                },
                indent=1,
            )
        )
        writer = _open_tensorboard(out / "tensorboard")
    last_path = existing
    columns = [
        TextColumn("train"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} {task.fields[losses]}"),
        TimeRemainingColumn(),
    ]
    with _StopRequest() as stop, Progress(*columns, console=console, disable=rank != 0) as progress:
        task = progress.add_task("train", total=config.steps, completed=run.step, losses="")
        started_s, started_step = time.perf_counter(), run.step
        end_step = min(config.steps, stop_at_step or config.steps)
        saved_step = run.step if existing else -1
        while run.step < end_step and not _agreed_stop(run, stop.requested):
            losses = _train_step(run, batches, scaler)
            progress.update(
                task, completed=run.step, losses=" ".join(f"{k.split('/')[1]} {v:.3f}" for k, v in losses.items())
            )
            if rank == 0 and writer is not None:
                for key, value in losses.items():
                    writer.add_scalar(key, value, run.step)
            if rank == 0 and run.step % config.sample_every == 0:
                _sample_grid(run, out / "samples" / f"step_{run.step:08d}.png")
            if run.step % config.checkpoint_every == 0:
                last_path, saved_step = _checkpoint(run, checkpoints) or last_path, run.step
        if saved_step != run.step:
            last_path = _checkpoint(run, checkpoints) or last_path
            if rank == 0:
                _sample_grid(run, out / "samples" / f"step_{run.step:08d}.png")
    steps_per_s = (run.step - started_step) / max(1e-9, time.perf_counter() - started_s)
    if writer is not None:
        writer.close()
    if world_size > 1:
        _write_rank_digest(run, out)
        distributed.barrier()
        distributed.destroy_process_group()
    message = "done" if run.step >= config.steps else "stopped early, saved"
    if rank == 0:
        console.print(f"{message}: step {run.step}/{config.steps} ({steps_per_s:.2f} steps/s), checkpoint {last_path}")
    return last_path
