"""Spectral front-ends as `nn.Module`s, so training and serving share one code path.

Input: a batch of waveforms [batch, samples] at 16 kHz. Output: normalised
log-spectral features [batch, 1, bins, frames]. Per-utterance normalisation
(mean and variance per frequency bin over time) removes gain and stationary
channel colouring, which would otherwise be a recording-condition shortcut.
"""

from __future__ import annotations

import torch
from torch import nn
from torchaudio import transforms as T

from siamese.config import AudioConfig, FrontendConfig

_LOG_FLOOR = 1e-6


class UtteranceNorm(nn.Module):
    """Mean/variance normalisation per frequency bin over the time axis."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # [B, F, T]
        mean = features.mean(dim=-1, keepdim=True)
        std = features.std(dim=-1, keepdim=True).clamp_min(1e-3)
        return (features - mean) / std


class Frontend(nn.Module):
    """log-linear (default), log-mel or LFCC features with per-utterance normalisation."""

    def __init__(self, config: FrontendConfig, audio: AudioConfig) -> None:
        super().__init__()
        self.kind = config.kind
        common = dict(n_fft=config.n_fft, win_length=config.win_length, hop_length=config.hop_length)
        n_bins = config.n_fft // 2 + 1
        self.n_keep = n_bins
        self.bin_pool = 1
        if config.kind == "loglinear":
            self.transform: nn.Module = T.Spectrogram(power=2.0, **common)
            self.n_keep = min(config.n_linear_bins or n_bins, n_bins)
            self.bin_pool = max(1, config.linear_bin_pool)
        elif config.kind == "logmel":
            self.transform = T.MelSpectrogram(sample_rate=audio.sample_rate, n_mels=config.n_mels, **common)
        elif config.kind == "lfcc":
            self.transform = T.LFCC(
                sample_rate=audio.sample_rate,
                n_filter=config.n_mels,
                n_lfcc=config.n_lfcc,
                speckwargs=dict(common),
            )
        else:
            raise ValueError(f"unknown front-end kind {config.kind!r}")
        self.norm = UtteranceNorm()

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            features = self.transform(waveform.float())[:, : self.n_keep, :]
            if self.bin_pool > 1:  # average power of neighbouring bins before the log
                features = torch.nn.functional.avg_pool1d(
                    features.transpose(1, 2), self.bin_pool, ceil_mode=True
                ).transpose(1, 2)
            if self.kind != "lfcc":  # LFCC already takes the log
                features = torch.log(features + _LOG_FLOOR)
            features = self.norm(features)
        return features.unsqueeze(1)
