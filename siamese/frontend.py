"""Front-ends as `nn.Module`s, so training and serving share one code path.

The front-ends themselves live in `siamese.frontends` (one module each, chosen by
the registry there). `Frontend(config, audio)` builds the one `config.kind` names;
kept under this name for callers of the earlier single-class module.
"""

from __future__ import annotations

from siamese.config import AudioConfig, FrontendConfig
from siamese.frontends import build_frontend
from siamese.frontends.base import FeatureMasking, UtteranceNorm
from siamese.frontends.base import Frontend as FrontendModule

__all__ = ["Frontend", "FrontendModule", "FeatureMasking", "UtteranceNorm"]


def Frontend(config: FrontendConfig, audio: AudioConfig) -> FrontendModule:  # noqa: N802 - a constructor by use
    """The registered front-end for `config.kind` (`siamese.frontends.build_frontend`)."""
    return build_frontend(config, audio)
