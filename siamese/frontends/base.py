"""What every front-end is: an `nn.Module` from waveforms to features, plus shared pieces.

Input: a batch of waveforms [batch, samples] at 16 kHz. Output: features
[batch, 1, rows, frames]. A subclass implements `features` ([batch, rows, frames])
and says which encoder suits its rows (`encoder_kind`): frequency rows suit 2-D
convolutions, learned hidden units suit 1-D convolutions over time. Training-time
masking is applied here, the same for every front-end.

Submodule names (`transform`, `whisper`, `norm`, `masking`) are part of the model
package format (they are state-dict keys): keep them when adding a front-end.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn
from torchaudio import transforms as T

from siamese.config import AudioConfig, FrontendConfig

LOG_FLOOR = 1e-6


class UtteranceNorm(nn.Module):
    """Mean/variance normalisation per frequency bin over the time axis."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # [B, F, T]
        mean = features.mean(dim=-1, keepdim=True)
        std = features.std(dim=-1, keepdim=True).clamp_min(1e-3)
        return (features - mean) / std


class FeatureMasking(nn.Module):
    """SpecAugment-style time and feature-row masks while training; the identity in eval mode.

    Hides stretches of frames and groups of rows so the encoder cannot lean on one narrow cue
    (one band, one moment), which is what a model that memorises its training generators does.
    """

    def __init__(self, config: FrontendConfig) -> None:
        super().__init__()
        masks: list[nn.Module] = []
        masks += [T.TimeMasking(config.time_mask_width, iid_masks=True) for _ in range(config.time_masks)]
        masks += [T.FrequencyMasking(config.feature_mask_width, iid_masks=True) for _ in range(config.feature_masks)]
        self.masks = nn.ModuleList(masks)

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # [B, 1, rows, frames]
        if not self.training or not self.masks:
            return features
        for mask in self.masks:
            features = mask(features)
        return features


class Frontend(nn.Module):
    """Base class of the registered front-ends (see module docstring)."""

    # The encoder that suits this front-end's rows, and its channels when switching to it
    # (None: the encoder's default channels). Read by `ModelConfig.with_frontend`.
    encoder_kind: ClassVar[str] = "conv2d"
    encoder_channels: ClassVar[tuple[int, ...] | None] = None

    def __init__(self, config: FrontendConfig, audio: AudioConfig) -> None:
        super().__init__()
        self.kind = config.kind
        self.norm = UtteranceNorm()
        self.masking = FeatureMasking(config)

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """[B, samples] -> [B, rows, frames]."""
        raise NotImplementedError

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.masking(self.features(waveform).unsqueeze(1))


class SpectralFrontend(Frontend):
    """A torchaudio transform, optionally bin-pooled and logged, normalised per utterance.

    Subclasses set `self.transform` (and `n_keep`, `bin_pool`, `take_log` where they differ).
    """

    def __init__(self, config: FrontendConfig, audio: AudioConfig) -> None:
        super().__init__(config, audio)
        self.n_keep = config.n_fft // 2 + 1
        self.bin_pool = 1
        self.take_log = True

    @staticmethod
    def stft_args(config: FrontendConfig) -> dict[str, int]:
        return dict(n_fft=config.n_fft, win_length=config.win_length, hop_length=config.hop_length)

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            features = self.transform(waveform.float())[:, : self.n_keep, :]
            if self.bin_pool > 1:  # average power of neighbouring bins before the log
                features = torch.nn.functional.avg_pool1d(
                    features.transpose(1, 2), self.bin_pool, ceil_mode=True
                ).transpose(1, 2)
            if self.take_log:
                features = torch.log(features + LOG_FLOOR)
            return self.norm(features)
