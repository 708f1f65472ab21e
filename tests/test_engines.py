"""Inference engines (issue 17): int8 and ONNX Runtime agree with the float model on real clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from siamese.detector import Detector
from siamese.engines import int8_layer_names, onnx_artefact
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


def test_onnx_engine_matches_float(package, windows, tmp_path) -> None:
    path = onnx_artefact(package, tmp_path)
    assert onnx_artefact(package, tmp_path) == path  # exported once per model version
    detector = Detector(package, engine="onnx", onnx_path=path, threads=1)
    window_diff, clip_diff, same = _agreement(package, windows, detector)
    assert window_diff <= TOLERANCE["onnx"] and same == len(windows)


def test_unknown_engine_is_refused(package) -> None:
    with pytest.raises(ValueError, match="unknown engine"):
        Detector(package, engine="fp4")
