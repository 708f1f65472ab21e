"""Export a model package's scoring path for serving outside this codebase.

What is exported is `siamese.network.ScoringModule`: waveform windows
[batch, window_samples] float32 at the model's sample rate -> raw scores [batch]
(the same raw score the detector averages and calibrates; calibration and the
operating point stay in the package's JSON metadata, they are two numbers each).

Three formats, each with a check that returns the max absolute difference of
its scores from the float PyTorch model on given windows:

- TorchScript (`torch.jit.trace`): the whole path, STFT front-end included.
- ONNX (`torch.onnx.export(dynamo=True)`, needs `onnxscript`): the whole path,
  front-end included. The legacy TorchScript-based exporter (`dynamo=False`)
  cannot export the STFT ("STFT does not currently support complex types"),
  the dynamo exporter can, so no front-end-less fallback is needed.
  The batch axis is dynamic; the window length is fixed by the model config.
- int8: `torch.ao.quantization.quantize_dynamic` on the frozen Whisper block's
  MLP layers, per-channel (the scoring engine `int8`, see `siamese.engines` for
  why not every Linear layer). Saved as TorchScript so it loads without this package.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from siamese.network import ScoringModule, SiameseNetwork
from siamese.package import ModelPackage

ExportFormat = Literal["torchscript", "onnx", "int8"]
FORMATS: tuple[str, ...] = ("torchscript", "onnx", "int8")

# Agreement tolerances on raw scores (max abs difference vs the float model); the
# tests assert these. Raw scores are differences of cosine similarities, in [-2, 2].
TOLERANCE: dict[str, float] = {"torchscript": 1e-5, "onnx": 1e-4, "int8": 0.05}


@dataclass(frozen=True)
class ExportResult:
    """Where an export went and how far its scores are from the float model."""

    format: str
    path: Path
    max_abs_diff: float
    n_windows: int
    tolerance: float

    @property
    def within_tolerance(self) -> bool:
        return self.max_abs_diff <= self.tolerance


def scoring_module(model: SiameseNetwork | ModelPackage) -> ScoringModule:
    """The eval-mode, CPU, single-input scoring module of a network or package."""
    network = model.build_network() if isinstance(model, ModelPackage) else model
    # A deep copy: export must not move or mutate the caller's network.
    return ScoringModule(copy.deepcopy(network).cpu().eval()).eval()


def example_windows(model: SiameseNetwork | ModelPackage, n: int = 8, seed: int = 0) -> np.ndarray:
    """Deterministic test windows [n, window_samples]: noise and tones at speech-like levels."""
    config = model.config.audio
    rng = np.random.default_rng(seed)
    t = np.arange(config.window_samples) / config.sample_rate
    rows = []
    for i in range(n):
        noise = rng.normal(0.0, 0.05, config.window_samples)
        tone = 0.2 * np.sin(2 * np.pi * rng.uniform(100, 7000) * t) if i % 2 else 0.0
        rows.append(noise + tone)
    return np.asarray(rows, dtype=np.float32)


@torch.inference_mode()
def float_scores(module: nn.Module, windows: np.ndarray) -> np.ndarray:
    """Scores of the float (reference) module."""
    return module(torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32))).float().numpy()


# --- TorchScript ------------------------------------------------------------------------------


def export_torchscript(model: SiameseNetwork | ModelPackage, path: str | Path) -> Path:
    """Trace the scoring path (batch size is free: nothing in it depends on it) and save it."""
    module = scoring_module(model)
    example = torch.from_numpy(example_windows(model, n=2))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings, and torch.jit's deprecation notice
        traced = torch.jit.trace(module, example, check_trace=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    traced.save(str(path))
    return path


def torchscript_max_abs_diff(model: SiameseNetwork | ModelPackage, path: str | Path, windows: np.ndarray) -> float:
    """Max |TorchScript score - float score| on `windows`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated but still the portable format
        loaded = torch.jit.load(str(path), map_location="cpu").eval()
    return _max_diff(float_scores(loaded, windows), float_scores(scoring_module(model), windows))


# --- ONNX -------------------------------------------------------------------------------------


def export_onnx(model: SiameseNetwork | ModelPackage, path: str | Path) -> Path:
    """Export the whole scoring path (STFT front-end included) with the dynamo exporter."""
    module = scoring_module(model)
    example = torch.from_numpy(example_windows(model, n=2))
    batch = torch.export.Dim("batch", min=1, max=4096)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            (example,),
            input_names=["waveforms"],
            output_names=["scores"],
            dynamic_shapes=({0: batch},),
            dynamo=True,
            verbose=False,
        )
    # Weights embedded in the one file (the model is small), so the artefact is self-contained.
    program.save(str(path), external_data=False)
    return path


def onnx_scores(path: str | Path, windows: np.ndarray) -> np.ndarray:
    """Scores from onnxruntime (CPU)."""
    import onnxruntime as ort  # imported lazily: only export/serving needs it

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["scores"], {"waveforms": np.ascontiguousarray(windows, dtype=np.float32)})[0]


def onnx_max_abs_diff(model: SiameseNetwork | ModelPackage, path: str | Path, windows: np.ndarray) -> float:
    """Max |onnxruntime score - float score| on `windows`."""
    return _max_diff(onnx_scores(path, windows), float_scores(scoring_module(model), windows))


# --- int8 dynamic quantisation ----------------------------------------------------------------


def quantize_int8(model: SiameseNetwork | ModelPackage) -> nn.Module:
    """The int8 scoring engine's quantisation (`siamese.engines`) applied to the scoring path."""
    from siamese.engines import quantize_int8 as quantize

    return quantize(scoring_module(model))


def int8_max_abs_diff(model: SiameseNetwork | ModelPackage, quantized: nn.Module, windows: np.ndarray) -> float:
    """Max |int8 score - float score| on `windows`."""
    return _max_diff(float_scores(quantized, windows), float_scores(scoring_module(model), windows))


def export_int8(model: SiameseNetwork | ModelPackage, path: str | Path) -> Path:
    """Quantise and save as TorchScript (loads with `torch.jit.load`, no voxguard needed)."""
    quantized = quantize_int8(model)
    example = torch.from_numpy(example_windows(model, n=2))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(quantized, example, check_trace=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    traced.save(str(path))
    return path


# --- one entry point --------------------------------------------------------------------------


def export_package(
    package: ModelPackage | str | Path,
    fmt: ExportFormat,
    out: str | Path,
    windows: np.ndarray | None = None,
) -> ExportResult:
    """Export `package` in `fmt` to `out` and measure agreement with the float model."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    if not isinstance(package, ModelPackage):
        package = ModelPackage.load(package)
    windows = example_windows(package, n=16) if windows is None else windows
    if fmt == "torchscript":
        path = export_torchscript(package, out)
        diff = torchscript_max_abs_diff(package, path, windows)
    elif fmt == "onnx":
        path = export_onnx(package, out)
        diff = onnx_max_abs_diff(package, path, windows)
    else:
        path = export_int8(package, out)
        diff = torchscript_max_abs_diff(package, path, windows)
    return ExportResult(fmt, Path(path), diff, int(len(windows)), TOLERANCE[fmt])


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64).reshape(-1), np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"score shapes differ: {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a - b))) if a.size else 0.0
