"""Front-ends as `nn.Module`s, so training and serving share one code path.

Input: a batch of waveforms [batch, samples] at 16 kHz. Output: features
[batch, 1, rows, frames]. Spectral front-ends (log-linear, log-mel, LFCC) are
normalised per utterance (mean and variance per frequency bin over time), which
removes gain and stationary channel colouring, a recording-condition shortcut.
The Whisper front-end returns a frozen pretrained encoder's hidden states (rows =
hidden units), left unnormalised: their per-utterance means carry the evidence.
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
        elif config.kind == "whisper":
            from siamese.whisper import WhisperLogMel, load_whisper_encoder

            self.transform = WhisperLogMel()
            self.whisper = load_whisper_encoder(config.whisper_blocks, config.whisper_model_bin)
            # Pretrained and frozen: re-read from the installed weights, never stored in packages.
            self.register_state_dict_post_hook(_drop_whisper_weights)
            self.register_load_state_dict_post_hook(_forgive_missing_whisper_weights)
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
        self.masking = FeatureMasking(config)

    def train(self, mode: bool = True) -> "Frontend":
        super().train(mode)
        if self.kind == "whisper":
            self.whisper.eval()  # frozen: inference behaviour even while the rest trains
        return self

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if self.kind == "whisper":
            with torch.autocast(device_type=waveform.device.type, enabled=False):
                log_mel = self.transform(waveform)
            with torch.no_grad():
                hidden = self.whisper(log_mel)  # [B, frames, d]
            return self.masking(hidden.float().transpose(1, 2).unsqueeze(1))
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            features = self.transform(waveform.float())[:, : self.n_keep, :]
            if self.bin_pool > 1:  # average power of neighbouring bins before the log
                features = torch.nn.functional.avg_pool1d(
                    features.transpose(1, 2), self.bin_pool, ceil_mode=True
                ).transpose(1, 2)
            if self.kind != "lfcc":  # LFCC already takes the log
                features = torch.log(features + _LOG_FLOOR)
            features = self.norm(features)
        return self.masking(features.unsqueeze(1))


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


def _drop_whisper_weights(module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    for key in [k for k in state_dict if k.startswith(prefix + "whisper.")]:
        del state_dict[key]


def _forgive_missing_whisper_weights(module: nn.Module, incompatible_keys) -> None:  # noqa: ANN001 - torch's type
    missing = incompatible_keys.missing_keys
    missing[:] = [key for key in missing if ".whisper." not in f".{key}"]
