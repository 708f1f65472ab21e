"""Log-linear spectrogram (the default spectral front-end): power STFT, linear bins kept and pooled."""

from __future__ import annotations

from torchaudio import transforms as T

from siamese.config import AudioConfig, FrontendConfig
from siamese.frontends.base import SpectralFrontend


class LogLinearFrontend(SpectralFrontend):
    """Linear-frequency log power: keeps the high bands where vocoder artefacts live."""

    def __init__(self, config: FrontendConfig, audio: AudioConfig) -> None:
        super().__init__(config, audio)
        self.transform = T.Spectrogram(power=2.0, **self.stft_args(config))
        n_bins = config.n_fft // 2 + 1
        self.n_keep = min(config.n_linear_bins or n_bins, n_bins)
        self.bin_pool = max(1, config.linear_bin_pool)
