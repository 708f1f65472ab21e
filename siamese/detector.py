"""One-call scoring API: `Detector.from_package(p).score(path_or_waveform)`.

A clip is decoded once, cut into windows covering the whole file, scored in
batches, and aggregated. Input problems come back as a `ClipResult` with
`error` set, never as an exception, so a loop over an archive cannot crash.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from siamese.audio import DecodedAudio, decode_audio, from_samples
from siamese.enrolment import clip_reference
from siamese.errors import AudioError
from siamese.package import ModelPackage
from siamese.verdict import ClipResult, Segment, VerdictRule  # noqa: F401 - Segment re-exported
from siamese.windowing import Windows, make_windows


class Detector:
    """A loaded model package ready to score audio."""

    def __init__(
        self,
        package: ModelPackage,
        device: str | None = None,
        max_duration_s: float | None = None,
        engine: str = "float",
        onnx_path: str | Path | None = None,
        threads: int | None = None,
    ) -> None:
        """`engine`: "float", "bf16", "int8" (CPU), "onnx" (CPU; `onnx_path` from
        `siamese.engines.onnx_artefact`, no enrolled groups) or "auto" (the fastest of
        these that keeps the scores on this device); see `siamese.engines`."""
        from siamese.engines import ENGINES, OnnxScorer, quantize_int8, resolve_engine, to_bfloat16

        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
        self.package = package
        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        engine = resolve_engine(engine, device, has_whisper=package.config.frontend.kind == "whisper")
        self.engine = engine  # what runs: "auto" resolved
        if engine in ("int8", "onnx"):
            device = torch.device("cpu")  # quantised kernels and our ONNX Runtime session are CPU only
        self.device = device
        self.network = package.build_network().to(self.device)
        if engine == "int8":
            self.network = quantize_int8(self.network)
        elif engine == "bf16":
            self.network = to_bfloat16(self.network)
        self._onnx = None
        if engine == "onnx":
            if onnx_path is None:
                raise ValueError("the onnx engine needs onnx_path (siamese.engines.onnx_artefact)")
            self._onnx = OnnxScorer(onnx_path, threads)
        self.max_duration_s = max_duration_s
        self._enrolled: dict[str, torch.Tensor] = {
            group: torch.from_numpy(np.asarray(e, dtype=np.float32)).to(self.device)
            for group, e in package.enrolled.items()
        }

    @classmethod
    def from_package(cls, path: str | Path, device: str | None = None, max_duration_s: float | None = None) -> "Detector":
        """Load a package file written by `ModelPackage.save`."""
        return cls(ModelPackage.load(path), device=device, max_duration_s=max_duration_s)

    @property
    def version(self) -> str:
        return self.package.version

    @property
    def audio_config(self):  # noqa: ANN201 - AudioConfig, kept short
        return self.package.config.audio

    # --- building blocks used by batch pipelines -------------------------------------------

    def decode(self, source: bytes | str | Path) -> DecodedAudio:
        """Decode to the model's sample rate (raises `AudioError`)."""
        return decode_audio(source, self.audio_config, self.max_duration_s)

    def windows(self, waveform: np.ndarray) -> Windows:
        """Cut a decoded waveform into the model's windows."""
        return make_windows(waveform, self.audio_config)

    @torch.inference_mode()
    def embed_windows(self, frames: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Embeddings [n, E] of windows [n, samples]."""
        chunks = []
        for start in range(0, len(frames), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(frames[start : start + batch_size])).to(self.device)
            chunks.append(self.network(batch).float().cpu().numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, self.package.config.encoder.embedding_dim), np.float32)

    @torch.inference_mode()
    def score_windows(self, frames: np.ndarray, group: str | None = None, batch_size: int = 64) -> np.ndarray:
        """Raw scores [n] of windows [n, samples] (higher = more bona fide)."""
        enrolled = self._enrolled.get(group) if group else None
        if self._onnx is not None:
            if enrolled is not None:
                raise ValueError("the onnx engine cannot use enrolled group references; use float or int8")
            return self._onnx(frames) if len(frames) else np.zeros(0, np.float32)
        scores = []
        for start in range(0, len(frames), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(frames[start : start + batch_size])).to(self.device)
            scores.append(self.network.score(batch, enrolled).float().cpu().numpy())
        return np.concatenate(scores) if scores else np.zeros(0, np.float32)

    def aggregate(
        self,
        source: str,
        window_scores: np.ndarray,
        starts_s: np.ndarray,
        ends_s: np.ndarray,
        audio: DecodedAudio | None = None,
    ) -> ClipResult:
        """Turn per-window scores into the clip verdict (mean score; every window kept as a segment)."""
        return VerdictRule.of(self.package).aggregate(source, window_scores, starts_s, ends_s, audio)

    # --- one call ----------------------------------------------------------------------------

    def score(
        self,
        source: str | Path | bytes | np.ndarray,
        sample_rate: int | None = None,
        group: str | None = None,
        name: str | None = None,
    ) -> ClipResult:
        """Score a file path, encoded bytes, or a mono waveform (with its `sample_rate`)."""
        label = name or (str(source) if isinstance(source, (str, Path)) else "<memory>")
        try:
            audio = self._as_audio(source, sample_rate)
            windows = self.windows(audio.waveform)
            scores = self.score_windows(windows.frames, group=group)
            return self.aggregate(label, scores, windows.starts_s, windows.ends_s, audio)
        except AudioError as error:
            return ClipResult(source=label, model_version=self.version, error=str(error))
        except OSError as error:
            return ClipResult(source=label, model_version=self.version, error=f"unreadable: {error}")
        except ValueError as error:  # e.g. an array without its sample_rate: still a result, not a crash
            return ClipResult(source=label, model_version=self.version, error=f"invalid_input: {error}")

    def embed_clip(self, source: str | Path | bytes) -> np.ndarray:
        """The clip's one reference embedding [E] (`siamese.enrolment.clip_reference`)."""
        audio = self.decode(source)
        return clip_reference(self.embed_windows(self.windows(audio.waveform).frames))

    def enroll(self, group: str, sources: list[str | Path | bytes]) -> int:
        """Add verified bona fide clips to `group`'s references (one per clip); returns how many were added."""
        dim = self.package.config.encoder.embedding_dim
        new = np.stack([self.embed_clip(s) for s in sources]) if sources else np.zeros((0, dim), np.float32)
        current = self.package.enrolled.get(group)
        merged = new if current is None else np.concatenate([current, new])
        self.package.enrolled[group] = merged.astype(np.float32)
        self._enrolled[group] = torch.from_numpy(self.package.enrolled[group]).to(self.device)
        return int(len(new))

    def _as_audio(self, source: str | Path | bytes | np.ndarray, sample_rate: int | None) -> DecodedAudio:
        if isinstance(source, np.ndarray):
            if sample_rate is None:
                raise ValueError("sample_rate is required when scoring a waveform array")
            # Arrays follow the soundfile convention: [samples] or [samples, channels].
            return from_samples(source, sample_rate, self.audio_config, self.max_duration_s)
        return self.decode(source)

