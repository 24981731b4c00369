"""`live export` to a full disk or a read-only folder: one line (ExportError), no *.partial left behind,
and a model already at the path unchanged (issue 12). The export runs in a child process so that the
kernel's file size limit (RLIMIT_FSIZE: writes fail with EFBIG, as on a full disk) applies to it alone."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Re-export the tiny test model (card, plate and architecture read from its metadata, new random weights).
EXPORT = """
import resource, signal, sys
import numpy as np, onnxruntime, torch
from live.formats.card import PLATE_METADATA_KEY, read_card_from_metadata
from live.training.networks import GeneratorConfig, UnetGenerator
from live.training.onnx_export import ExportError, export_onnx

source, out, limit_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
metadata = onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
card = read_card_from_metadata(metadata, source)
config = GeneratorConfig(**{key: card.architecture[key] for key in ("size_px", "ngf")})
side = card.size_px
inputs = [tuple(np.random.default_rng(k).integers(0, 256, (side, side, 3), dtype=np.uint8) for k in range(2))]
if limit_bytes:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
torch.manual_seed(0)
try:
    export_onnx(UnetGenerator(config), card, out, inputs, metadata[PLATE_METADATA_KEY])
except ExportError as error:
    print(f"live export: error: {error}", file=sys.stderr)
    sys.exit(1)
"""


def export(model: Path, out: Path, limit_bytes: int = 0) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", EXPORT, str(model), str(out), str(limit_bytes)]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def check_refused(done: subprocess.CompletedProcess[str], out: Path, reasons: tuple[str, ...]) -> None:
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    expected = [f"live export: error: cannot write {out}: {reason}; nothing was written" for reason in reasons]
    assert lines[0] in expected, lines[0]
    assert not list(out.parent.glob("*.partial"))


def test_export_to_a_full_disk_says_so_in_one_line_and_keeps_the_old_model(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "avatar.onnx"
    out.write_bytes(b"the previous model")
    check_refused(export(tiny_model_path, out, limit_bytes=64 * 1024), out, (os.strerror(27),))
    assert out.read_bytes() == b"the previous model"
    assert export(tiny_model_path, out).returncode == 0  # the same export with room to write succeeds


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder nothing can be written to: a read-only tmpfs as root, else a folder without write permission."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"root cannot make a read-only folder here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_export_to_a_read_only_folder_says_so_in_one_line(tiny_model_path: Path, read_only_folder: Path) -> None:
    out = read_only_folder / "avatar.onnx"
    check_refused(export(tiny_model_path, out), out, (os.strerror(30), os.strerror(13)))
    assert not out.exists()


def test_card_notes_are_replaced_without_touching_the_weights(tiny_model_path: Path, tmp_path: Path) -> None:
    import shutil

    import onnx

    from live.formats.card import CARD_METADATA_KEY, ModelCard
    from live.formats.card_file import update_card_notes

    model = tmp_path / "tiny.onnx"
    shutil.copy(tiny_model_path, model)
    update_card_notes(model, "## Tried\n\nwarped lids: no gain")
    before, after = onnx.load(str(tiny_model_path)), onnx.load(str(model))
    assert before.graph.SerializeToString() == after.graph.SerializeToString()
    card_json = next(entry.value for entry in after.metadata_props if entry.key == CARD_METADATA_KEY)
    assert ModelCard.from_json(card_json).training["notes"] == "## Tried\n\nwarped lids: no gain"
    assert "warped lids: no gain" in model.with_suffix(".md").read_text()
