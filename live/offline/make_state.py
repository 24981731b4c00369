"""`live make`'s work folder (models/NAME.make/ beside the model): what each phase finished, and from what.

WORK/state.json holds, per phase, a key (a digest of the phase's inputs and of the previous phase's key), the
inputs themselves (to say what changed), the seconds it took (over every run of the command, for the time
budget) and whether it is done. Each phase writes its own folder or file (PHASE_OUTPUTS), made under a
temporary name and renamed when whole, so an interrupted phase leaves nothing half-written; state.json is
replaced whole after every change. When a phase's inputs change (another recording, another option), that
phase and every later one start over, and a line says why.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from live.errors import UsageError
from live.formats.replacing import replacing

STATE_NAME = "state.json"
STATE_VERSION = 1
PHASES = ("check", "prepare", "train", "export", "eval", "fit", "summary")
PHASE_OUTPUTS = {
    "prepare": ("dataset",),
    "train": ("train",),
    "export": ("export",),
    "eval": ("eval",),
    "fit": ("fit",),
    "summary": ("summary.json",),
}


def phase_keys(inputs: dict[str, dict]) -> dict[str, str]:
    """Each phase's key: sha256 of its inputs (JSON) and the previous phase's key, so a change reaches every
    later phase."""
    keys, previous = {}, ""
    for phase in PHASES:
        text = json.dumps({"previous": previous, "inputs": inputs.get(phase, {})}, sort_keys=True)
        keys[phase] = previous = hashlib.sha256(text.encode()).hexdigest()
    return keys


@dataclass
class WorkFolder:
    """The folder, its state (per phase: key, inputs, seconds, done) and the keys of this run's inputs."""

    path: Path
    keys: dict[str, str]
    inputs: dict[str, dict]
    phases: dict[str, dict] = field(default_factory=dict)

    def done(self, phase: str) -> bool:
        return bool(self.phases.get(phase, {}).get("done"))

    def seconds(self, phase: str) -> float:
        return float(self.phases.get(phase, {}).get("seconds", 0.0))

    def spent_s(self) -> float:
        """Seconds spent over every run of the command so far."""
        return sum(self.seconds(phase) for phase in PHASES)

    def record(self, phase: str, seconds: float, done: bool, **extra: object) -> None:
        """Add `seconds` to the phase, mark it done or not, and write state.json."""
        entry = {"key": self.keys[phase], "inputs": self.inputs.get(phase, {}), "done": done}
        entry["seconds"] = round(self.seconds(phase) + seconds, 3)
        self.phases[phase] = {**self.phases.get(phase, {}), **entry, **extra}
        self.save()

    def save(self) -> None:
        data = {"version": STATE_VERSION, "phases": self.phases}
        with replacing(self.path / STATE_NAME) as temporary:
            temporary.write_text(json.dumps(data, indent=1))


def _changed_inputs(old: dict, new: dict) -> list[str]:
    return sorted(key for key in {*old, *new} if old.get(key) != new.get(key))


def open_work_folder(path: Path, inputs: dict[str, dict]) -> tuple[WorkFolder, list[str]]:
    """The work folder for these inputs, and lines saying what starts over. A phase whose key differs from the
    one recorded is dropped with every later phase (their outputs deleted). UsageError when `path` exists and is
    not a work folder of `live make`."""
    folder = WorkFolder(path, phase_keys(inputs), inputs)
    state_path = path / STATE_NAME
    if path.exists() and not state_path.is_file() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(
            f"{path} exists and is not a work folder of `live make` (no {STATE_NAME}): move it away or give "
            "another --out"
        )
    if not state_path.is_file():
        path.mkdir(parents=True, exist_ok=True)
        folder.save()
        return folder, []
    try:
        data = json.loads(state_path.read_text())
        phases = data["phases"] if data.get("version") == STATE_VERSION else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise UsageError(f"{state_path} is damaged ({error!r}): delete {path} to start over") from error
    if not isinstance(phases, dict):
        raise UsageError(f"{state_path} is from another version of `live make`: delete {path} to start over")
    folder.phases = phases
    return folder, _drop_changed(folder)


def _drop_changed(folder: WorkFolder) -> list[str]:
    """Forget the first phase whose key changed and every later one (deleting their outputs); what was said."""
    for index, phase in enumerate(PHASES):
        recorded = folder.phases.get(phase)
        if recorded is None or recorded.get("key") == folder.keys[phase]:
            continue
        changed = _changed_inputs(recorded.get("inputs", {}), folder.inputs.get(phase, {}))
        what = ", ".join(changed) if changed else "an earlier phase's inputs"
        kept = [name for name in PHASES[:index] if folder.done(name)]
        for later in PHASES[index:]:
            folder.phases.pop(later, None)
            for output in PHASE_OUTPUTS.get(later, ()):
                remove_output(folder.path / output)
        folder.save()
        keeps = f"; kept: {', '.join(kept)}" if kept else ""
        return [f"{what} changed since the last run in {folder.path}: starting over from {phase}{keeps}"]
    return []


def remove_output(path: Path) -> None:
    """Delete a phase's output (a folder or a file), if there."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


@contextmanager
def building(path: Path) -> Iterator[Path]:
    """An empty folder `path` + ".partial" to build a phase's output in: renamed over `path` when the block ends
    without an error (Ctrl-C included), removed otherwise, so `path` is whole or as it was."""
    temporary = path.with_name(path.name + ".partial")
    remove_output(temporary)
    temporary.mkdir(parents=True)
    try:
        yield temporary
        remove_output(path)
        temporary.rename(path)
    finally:
        remove_output(temporary)


def installed_sha256(path: Path) -> str | None:
    """The sha256 of the model the work folder at `path` last installed at --out (None: none, or no state)."""
    try:
        data = json.loads((path / STATE_NAME).read_text())
        return data["phases"]["install"]["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
