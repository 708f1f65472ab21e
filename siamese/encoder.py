"""CNN encoder shared by both Siamese branches: spectrogram -> L2-normalised embedding."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from siamese.config import EncoderConfig


class ConvBlock(nn.Module):
    """conv 3x3 -> batch norm -> ReLU -> max pool 2x2 -> dropout."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Dropout2d(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Conv1dBlock(nn.Module):
    """conv 3 over time -> batch norm -> ReLU -> dropout (feature rows as channels)."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv1d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm1d(out_channels),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class AttentiveStatsPooling(nn.Module):
    """Attention-weighted mean and standard deviation over time (Okabe et al. 2018)."""

    def __init__(self, channels: int, hidden: int = 64) -> None:
        super().__init__()
        self.attention = nn.Sequential(
            nn.Conv1d(channels, hidden, kernel_size=1),
            nn.Tanh(),
            nn.Conv1d(hidden, channels, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T] -> [B, 2C]
        weights = torch.softmax(self.attention(x), dim=-1)
        mean = (weights * x).sum(dim=-1)
        var = (weights * x * x).sum(dim=-1) - mean * mean
        return torch.cat([mean, var.clamp_min(1e-6).sqrt()], dim=1)


class MeanStatsPooling(nn.Module):
    """Plain mean and standard deviation over time.

    The standard deviation is computed in two passes (mean, then mean squared
    deviation, unbiased like `torch.std`) rather than with `torch.std`, whose CPU
    kernel took 27 ms for 16 windows of 768 rows x 200 frames against 6 ms here:
    a tenth of the bundled model's inference time (docs/benchmarks.md).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[-1]
        mean = x.mean(dim=-1)
        if frames < 2:  # torch.std's answer for one frame (nan), clamped below as before
            return torch.cat([mean, x.std(dim=-1).clamp_min(1e-6)], dim=1)
        deviation = x - mean.unsqueeze(-1)
        var = (deviation * deviation).sum(dim=-1) / (frames - 1)
        # Clamp before the root (= std clamped at 1e-6): sqrt's gradient at 0 is infinite, and a
        # constant row (a dead ReLU channel) would turn the whole batch's gradients into NaN.
        return torch.cat([mean, var.clamp_min(1e-12).sqrt()], dim=1)


class Encoder(nn.Module):
    """Conv blocks, stats pooling over time, projection to an L2-normalised embedding.

    conv2d: blocks over (frequency, time), remaining frequency rows folded into a few
    bands. conv1d: blocks over time with the front-end's rows as input channels.
    """

    def __init__(self, config: EncoderConfig, n_freq_bins: int) -> None:
        super().__init__()
        self.kind = config.kind
        blocks: list[nn.Module] = []
        if config.kind == "conv1d":
            in_ch = n_freq_bins
            for out_ch in config.channels:
                blocks.append(Conv1dBlock(in_ch, out_ch, config.dropout))
                in_ch = out_ch
            self.freq_bands = 1
            self.band_pool: nn.Module = nn.Identity()
        else:
            in_ch = 1
            for out_ch in config.channels:
                blocks.append(ConvBlock(in_ch, out_ch, config.dropout))
                in_ch = out_ch
            freq_after = n_freq_bins
            for _ in config.channels:
                freq_after //= 2
            # Average the remaining frequency rows into a few bands: keeps coarse spectral
            # position (where artefacts sit) without a huge flattened dimension.
            self.freq_bands = min(4, max(freq_after, 1))
            self.band_pool = nn.AdaptiveAvgPool2d((self.freq_bands, None))
        self.blocks = nn.Sequential(*blocks)
        frame_dim = in_ch * self.freq_bands
        self.pooling: nn.Module = (
            AttentiveStatsPooling(frame_dim) if config.pooling == "attentive" else MeanStatsPooling()
        )
        self.projection = nn.Sequential(
            nn.Linear(2 * frame_dim, config.embedding_dim),
            nn.BatchNorm1d(config.embedding_dim),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # [B, 1, F, T] -> [B, E]
        if self.kind == "conv1d":
            x = self.blocks(features.squeeze(1))
        else:
            x = self.band_pool(self.blocks(features))
            batch, channels, bands, frames = x.shape
            x = x.reshape(batch, channels * bands, frames)
        return F.normalize(self.projection(self.pooling(x)), dim=-1)
