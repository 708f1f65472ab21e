"""Log-mel spectrogram front-end."""

from __future__ import annotations

from torchaudio import transforms as T

from siamese.config import AudioConfig, FrontendConfig
from siamese.frontends.base import SpectralFrontend


class LogMelFrontend(SpectralFrontend):
    """`n_mels` mel bands, log power."""

    def __init__(self, config: FrontendConfig, audio: AudioConfig) -> None:
        super().__init__(config, audio)
        self.transform = T.MelSpectrogram(sample_rate=audio.sample_rate, n_mels=config.n_mels, **self.stft_args(config))
