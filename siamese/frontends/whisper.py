"""Frozen pretrained Whisper encoder front-end (its first `whisper_blocks` blocks).

Rows are hidden units, not frequencies, and stay unnormalised (their per-utterance
means carry the evidence), so it pairs with the 1-D encoder. The weights are re-read
from the installed (or configured) CTranslate2 `model.bin` and never stored in packages.
"""

from __future__ import annotations

import torch
from torch import nn

from siamese.config import AudioConfig, FrontendConfig
from siamese.frontends.base import Frontend


class WhisperFrontend(Frontend):
    """Whisper log-mel -> frozen encoder blocks -> hidden states [B, d, frames]."""

    encoder_kind = "conv1d"
    encoder_channels = (256, 256)

    def __init__(self, config: FrontendConfig, audio: AudioConfig) -> None:
        super().__init__(config, audio)
        from siamese.whisper import WhisperLogMel, load_whisper_encoder

        if config.whisper_layers not in ("last", "all"):
            raise ValueError(f"whisper_layers must be 'last' or 'all', not {config.whisper_layers!r}")
        self.all_layers = config.whisper_layers == "all"
        self.transform = WhisperLogMel()
        self.whisper = load_whisper_encoder(config.whisper_blocks, config.whisper_model_bin, config.whisper_weights)
        # Pretrained and frozen: re-read from the installed weights, never stored in packages.
        self.register_state_dict_post_hook(_drop_whisper_weights)
        self.register_load_state_dict_post_hook(_forgive_missing_whisper_weights)

    def train(self, mode: bool = True) -> "WhisperFrontend":
        super().train(mode)
        self.whisper.eval()  # frozen: inference behaviour even while the rest trains
        return self

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            log_mel = self.transform(waveform)
        # The log-mel stays float32 (its log and clamp); the frozen encoder runs in its own
        # dtype, which the bf16 engine lowers to bfloat16 (`siamese.engines.to_bfloat16`).
        log_mel = log_mel.to(self.whisper.conv1.weight.dtype)
        with torch.no_grad():
            if self.all_layers:
                hidden = torch.cat(self.whisper.hidden_states(log_mel), dim=2)  # [B, frames, d * (blocks + 1)]
            else:
                hidden = self.whisper(log_mel)  # [B, frames, d]
        return hidden.float().transpose(1, 2)


def _drop_whisper_weights(module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    for key in [k for k in state_dict if k.startswith(prefix + "whisper.")]:
        del state_dict[key]


def _forgive_missing_whisper_weights(module: nn.Module, incompatible_keys) -> None:  # noqa: ANN001 - torch's type
    missing = incompatible_keys.missing_keys
    missing[:] = [key for key in missing if ".whisper." not in f".{key}"]
