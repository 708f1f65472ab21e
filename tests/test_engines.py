"""Inference engines (issue 17): bf16, int8 and ONNX Runtime agree with the float model on real clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from siamese.detector import Detector
import torch

from siamese.engines import int8_layer_names, native_bfloat16, onnx_artefact, resolve_engine
from siamese.export import TOLERANCE
from siamese.package import ModelPackage

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "models" / "voxguard-default.vxpkg"
# Real speech and real spoofs shipped with the repo: several corpora and formats.
CLIPS = sorted((ROOT / "examples" / "clips").iterdir())[::4]


@pytest.fixture(scope="module")
def package() -> ModelPackage:
    return ModelPackage.load(BUNDLED)


@pytest.fixture(scope="module")
def windows(package: ModelPackage) -> list[np.ndarray]:
    float_detector = Detector(package, device="cpu")
    return [float_detector.windows(float_detector.decode(p).waveform).frames for p in CLIPS]


def _agreement(package: ModelPackage, windows: list[np.ndarray], other: Detector) -> tuple[float, float, int]:
    reference = Detector(package, device="cpu")
    window_diff = clip_diff = 0.0
    same_labels = 0
    for frames in windows:
        a, b = reference.score_windows(frames), other.score_windows(frames)
        window_diff = max(window_diff, float(np.max(np.abs(a - b))))
        clip_diff = max(clip_diff, abs(float(a.mean()) - float(b.mean())))
        point = package.operating_point
        same_labels += point.decide(float(a.mean())) == point.decide(float(b.mean()))
    return window_diff, clip_diff, same_labels


def test_int8_quantises_only_the_whisper_mlp_and_keeps_scores(package, windows) -> None:
    network = package.build_network()
    names = int8_layer_names(network)
    assert names and all(n.endswith((".fc1", ".fc2")) and ".whisper." in f".{n}" for n in names)
    detector = Detector(package, device="cpu", engine="int8")
    assert any("quantized" in type(m).__module__ for m in detector.network.modules())
    window_diff, clip_diff, same = _agreement(package, windows, detector)
    assert window_diff <= TOLERANCE["int8"] and clip_diff <= TOLERANCE["int8"]
    assert same >= len(windows) - 1  # at most a clip sitting on a decision boundary may flip


# bf16 keeps 8 mantissa bits in the Whisper encoder: measured drift on these clips ~1e-2
# (docs/benchmarks.md, "Engines"); held to half the int8 tolerance.
BF16_TOLERANCE = 0.025


def test_bf16_lowers_only_the_whisper_encoder_and_keeps_scores(package, windows) -> None:
    detector = Detector(package, device="cpu", engine="bf16")
    assert detector.engine == "bf16"
    dtypes = {name: p.dtype for name, p in detector.network.named_parameters()}
    whisper = {n: d for n, d in dtypes.items() if ".whisper." in f".{n}"}
    rest = {n: d for n, d in dtypes.items() if n not in whisper}
    assert whisper and set(whisper.values()) == {torch.bfloat16}
    assert rest and set(rest.values()) == {torch.float32}  # pooling, head and prototypes stay float32
    window_diff, clip_diff, same = _agreement(package, windows, detector)
    assert 0.0 < window_diff <= BF16_TOLERANCE  # > 0: bfloat16 really ran
    assert same >= len(windows) - 1


def test_auto_engine_picks_bf16_only_where_it_is_native(package, monkeypatch) -> None:
    # The choice on this machine, whatever its CPU, is one of the measured engines.
    chosen = Detector(package, device="cpu", engine="auto").engine
    assert chosen == ("bf16" if native_bfloat16("cpu") else "int8")
    monkeypatch.setattr("siamese.engines.native_bfloat16", lambda device: False)
    assert resolve_engine("auto", "cpu") == "int8"
    assert resolve_engine("auto", "cuda") == "float"  # int8 kernels have no GPU path
    monkeypatch.setattr("siamese.engines.native_bfloat16", lambda device: True)
    assert resolve_engine("auto", "cpu") == "bf16"
    assert resolve_engine("auto", "cpu", has_whisper=False) == "float"  # nothing to lower without Whisper
    assert resolve_engine("float", "cpu") == "float"  # an explicit choice is kept


def test_onnx_engine_matches_float(package, windows, tmp_path) -> None:
    path = onnx_artefact(package, tmp_path)
    assert onnx_artefact(package, tmp_path) == path  # exported once per model version
    detector = Detector(package, engine="onnx", onnx_path=path, threads=1)
    window_diff, clip_diff, same = _agreement(package, windows, detector)
    assert window_diff <= TOLERANCE["onnx"] and same == len(windows)


def test_unknown_engine_is_refused(package) -> None:
    with pytest.raises(ValueError, match="unknown engine"):
        Detector(package, engine="fp4")
