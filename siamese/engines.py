"""Inference engines for scoring: the float network, bfloat16, int8, and ONNX Runtime.

- `float`: the network as trained (the reference).
- `bf16`: the frozen Whisper encoder (conv stem and blocks: nearly all of the
  arithmetic) in bfloat16; the log-mel, pooling, embedding head and comparison stay
  float32. Where the hardware multiplies bfloat16 natively (CPUs with AMX or
  AVX512-BF16, GPUs from Ampere on) the encoder runs 2.6x faster for a raw-score
  drift of ~1e-2; elsewhere bfloat16 is emulated and slower than float.
- `auto` (the settings' default): chosen where the model runs by `resolve_engine`:
  bf16 where it is native, else int8 on CPUs, float on other GPUs. Each choice passed
  the default-engine rule below (docs/benchmarks.md, "Engines").
- `int8`: dynamic int8 quantisation (`torch.ao.quantization.quantize_dynamic`) of
  the frozen Whisper block's MLP only (`fc1`, `fc2`), with per-channel weight
  scales. Quantising every Linear layer (attention projections and the embedding
  head too, per-tensor scales) moved raw scores by up to 6.8e-2-9.3e-2, over the
  0.05 tolerance; the attention projections and the small head are what drift, and
  they hold about a third of the Linear time. Measured layer by layer in
  docs/benchmarks.md ("Engines"). CPU only (quantised kernels have no CUDA path).
- `onnx`: the whole scoring path exported once per model version
  (`siamese.export.export_onnx`, cached in a folder the caller names) and run by
  ONNX Runtime on CPU. Enrolled group references are not part of the export, so it
  scores without them (the caller refuses `--group` with it).

Which engine is the default is decided by measurement (EER on the test split and
the devset may move by at most 0.5 point): `voxguard bench engines`.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from siamese.config import ENGINES

Engine = Literal["auto", "float", "bf16", "int8", "onnx"]
__all__ = ["ENGINES", "Engine", "OnnxScorer", "int8_layer_names", "native_bfloat16", "onnx_artefact",
           "quantize_int8", "resolve_engine", "to_bfloat16"]

# Linear layers quantised by the int8 engine: names ending so (the Whisper MLP).
INT8_LAYER_SUFFIXES = (".fc1", ".fc2")


def int8_layer_names(module: nn.Module) -> list[str]:
    """Qualified names of the Linear layers the int8 engine quantises.

    The Whisper MLP layers when the model has a Whisper front-end; otherwise (the
    spectrogram front-ends, whose only Linear is the embedding head, drift 5.6e-4)
    every Linear layer.
    """
    linear = [name for name, child in module.named_modules() if isinstance(child, nn.Linear)]
    mlp = [name for name in linear if ".whisper." in f".{name}" and name.endswith(INT8_LAYER_SUFFIXES)]
    return mlp or linear


def quantize_int8(module: nn.Module) -> nn.Module:
    """A copy of `module` (eval, CPU) with its Whisper MLP layers dynamically quantised to int8."""
    from torch.ao.quantization import per_channel_dynamic_qconfig

    model = copy.deepcopy(module).cpu().eval()
    spec = {name: per_channel_dynamic_qconfig for name in int8_layer_names(model)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its deprecation
        return torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8).eval()


def native_bfloat16(device: torch.device | str) -> bool:
    """Whether `device` multiplies bfloat16 in hardware (else bf16 is emulated and slow)."""
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False))
    if device.type != "cpu":
        return False
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def resolve_engine(engine: str, device: torch.device | str, has_whisper: bool = True) -> str:
    """The engine `engine` means on `device`: "auto" becomes bf16, int8 or float; others stay.

    `has_whisper`: both faster engines lower the Whisper encoder; a model without one (the
    spectrogram front-ends) would gain nothing from either, so "auto" keeps it float.
    """
    if engine != "auto":
        return engine
    device = torch.device(device)
    if not has_whisper:
        return "float"
    if native_bfloat16(device):
        return "bf16"
    return "int8" if device.type == "cpu" else "float"


def to_bfloat16(module: nn.Module) -> nn.Module:
    """A copy of `module` (eval) whose frozen Whisper encoders hold bfloat16 weights.

    The front-end casts its float32 log-mel to the encoder's dtype and its output back
    to float32 (`siamese.frontends.whisper`), so nothing else changes.
    """
    model = copy.deepcopy(module).eval()
    for name, child in model.named_modules():
        if name.endswith("whisper") and hasattr(child, "blocks"):
            child.to(torch.bfloat16)
    return model


class OnnxScorer:
    """Raw scores of waveform windows through ONNX Runtime (an exported scoring path)."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort  # lazily: only this engine needs it

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        return self.session.run(["scores"], {"waveforms": np.ascontiguousarray(windows, dtype=np.float32)})[0]


def onnx_artefact(package, cache_dir: str | Path) -> Path:  # type: ignore[no-untyped-def] # ModelPackage
    """The package's ONNX export under `cache_dir`, exported on first use (keyed by model version)."""
    from siamese.export import export_onnx

    target = Path(cache_dir) / f"{package.version}.onnx"
    if not target.exists():
        tmp = target.with_suffix(f".{np.random.default_rng().integers(1 << 30)}.tmp")
        export_onnx(package, tmp)
        tmp.replace(target)  # atomic: concurrent exporters never see half a file
    return target
