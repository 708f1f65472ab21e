"""Linear-frequency cepstral coefficients (LFCC), a classic anti-spoofing feature."""

from __future__ import annotations

from torchaudio import transforms as T

from siamese.config import AudioConfig, FrontendConfig
from siamese.frontends.base import SpectralFrontend


class LfccFrontend(SpectralFrontend):
    """`n_lfcc` coefficients from `n_mels` linear filters (torchaudio already takes the log)."""

    def __init__(self, config: FrontendConfig, audio: AudioConfig) -> None:
        super().__init__(config, audio)
        self.transform = T.LFCC(
            sample_rate=audio.sample_rate,
            n_filter=config.n_mels,
            n_lfcc=config.n_lfcc,
            speckwargs=self.stft_args(config),
        )
        self.take_log = False
