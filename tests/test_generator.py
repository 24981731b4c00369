"""GeneratorSession on a really exported tiny generator, with ONNX Runtime on CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import pytest

import live.engines.generator as generator_module
from live.engines.generator import GeneratorSession, GeneratorSessionConfig
from live.errors import UsageError

SIZE_PX = 64


def random_sketch(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (SIZE_PX, SIZE_PX, 3), dtype=np.uint8)


def cuda_usable() -> bool:
    return generator_module.device_problem("cuda") is None


def test_generates_deterministic_bgr_images_on_cpu(tiny_model_path: Path) -> None:
    with GeneratorSession(GeneratorSessionConfig(tiny_model_path, device="cpu")) as session:
        assert session.provider == "CPUExecutionProvider"
        assert session.card.size_px == SIZE_PX and session.card.name == "tiny-test"
        first = session.generate(random_sketch(1))
        other = session.generate(random_sketch(2))
        again = session.generate(random_sketch(1))
    assert first.shape == (SIZE_PX, SIZE_PX, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.std() > 0


def test_io_binding_matches_a_plain_ort_run(tiny_model_path: Path) -> None:
    sketch_bgr, plate_bgr = random_sketch(3), random_sketch(4)
    plain = onnxruntime.InferenceSession(str(tiny_model_path), providers=["CPUExecutionProvider"])
    expected = plain.run(["image"], {"sketch": sketch_bgr[None], "plate": plate_bgr[None]})[0][0]
    out_bgr = np.zeros((SIZE_PX, SIZE_PX, 3), dtype=np.uint8)
    with GeneratorSession(GeneratorSessionConfig(tiny_model_path, device="cpu", intra_op_threads=1)) as session:
        result = session.generate(sketch_bgr, out_bgr=out_bgr, plate_bgr=plate_bgr)
        neutral = session.generate(sketch_bgr)  # over the plate in the usual crop
        with pytest.raises(ValueError, match="sketch must be"):
            session.generate(np.zeros((SIZE_PX, SIZE_PX + 1, 3), dtype=np.uint8))
        with pytest.raises(ValueError, match="plate must be"):
            session.generate(sketch_bgr, plate_bgr=np.zeros((SIZE_PX, SIZE_PX, 4), dtype=np.uint8))
        plate_crop = session.neutral_plate_crop_bgr
        assert session.plate_bgr.shape[1::-1] == tuple(session.card.plate_size_px)
    assert result is out_bgr
    assert np.array_equal(out_bgr, expected)
    assert np.array_equal(neutral, plain.run(["image"], {"sketch": sketch_bgr[None], "plate": plate_crop[None]})[0][0])


def test_an_old_format_model_is_refused_with_one_line_saying_what_to_do(tiny_model_path: Path, tmp_path: Path) -> None:
    from card_edit import copy_with_card

    old = copy_with_card(tiny_model_path, tmp_path / "old.onnx", card_version=1)
    with pytest.raises(UsageError) as caught:
        GeneratorSession(GeneratorSessionConfig(old, device="cpu"))
    message = str(caught.value)
    assert "\n" not in message and "old (format 1)" in message and "retrain it" in message


def test_auto_says_why_it_runs_on_cpu_without_c_level_spam(
    tiny_model_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    if cuda_usable():
        pytest.skip("CUDA is usable on this machine")
    with GeneratorSession(GeneratorSessionConfig(tiny_model_path, device="auto")) as session:
        assert session.provider == "CPUExecutionProvider"
        assert session.provider_note.endswith("running on CPU")
        if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            assert "CUDA not usable (" in session.provider_note
    captured = capfd.readouterr()
    assert "onnxruntime" not in captured.err + captured.out


def test_explicit_cuda_without_gpu_names_the_reason(tiny_model_path: Path) -> None:
    if cuda_usable():
        pytest.skip("CUDA is usable on this machine")
    with pytest.raises(UsageError, match=r"device cuda cannot run: .*(driver|library|GPU|no CUDAExecutionProvider)"):
        GeneratorSession(GeneratorSessionConfig(tiny_model_path, device="cuda"))


def test_ort_fallback_to_cpu_is_caught_when_probes_pass(
    tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """ORT itself falls back to CPU when CUDA cannot load: the session's providers give it away."""
    if cuda_usable():
        pytest.skip("CUDA is usable on this machine")
    monkeypatch.setattr(generator_module, "device_problem", lambda device: None)
    with pytest.raises(UsageError, match=r"device cuda cannot run: \S"):
        GeneratorSession(GeneratorSessionConfig(tiny_model_path, device="cuda"))
    assert "[E:onnxruntime" not in capfd.readouterr().err


def test_model_without_card_is_refused(tmp_path: Path) -> None:
    import torch

    from live.training.networks import GeneratorConfig, Uint8Wrapper, UnetGenerator

    path = tmp_path / "bare.onnx"
    wrapper = Uint8Wrapper(UnetGenerator(GeneratorConfig(size_px=SIZE_PX, ngf=4)).eval()).eval()
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            (torch.zeros(1, SIZE_PX, SIZE_PX, 3, dtype=torch.uint8),) * 2,
            str(path),
            input_names=["sketch", "plate"],
            output_names=["image", "image_float"],
            opset_version=17,
            dynamo=False,
        )
    with pytest.raises(UsageError, match="has no live model card"):
        GeneratorSession(GeneratorSessionConfig(path, device="cpu"))


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_missing_and_non_onnx_files_are_usage_errors(tmp_path: Path, device: str) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        GeneratorSession(GeneratorSessionConfig(tmp_path / "missing.onnx", device=device))
    text_file = tmp_path / "notes.onnx"
    text_file.write_text("these are not the weights you are looking for\n")
    with pytest.raises(UsageError, match="is not a readable ONNX model"):
        GeneratorSession(GeneratorSessionConfig(text_file, device=device))


def test_unknown_device_and_closed_session(tiny_model_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown device 'gpu'"):
        GeneratorSession(GeneratorSessionConfig(tiny_model_path, device="gpu"))
    session = GeneratorSession(GeneratorSessionConfig(tiny_model_path, device="cpu"))
    session.close()
    session.close()
    with pytest.raises(RuntimeError, match="closed"):
        session.generate(random_sketch())
