"""The front-end registry: which feature extractor a `FrontendConfig.kind` names.

Adding a front-end = one module defining a `siamese.frontends.base.Frontend`
subclass + one line in `BUILTIN` below (or `register(kind, cls)` at run time, for a
front-end living outside this package). Nothing else names front-ends: the network
builds them through `build_frontend`, `ModelConfig.with_frontend` asks the class
which encoder suits its features, and the CLIs list `kinds()` as their choices.

Kinds are names mapped to "module:Class" strings, imported on first use, so listing
them (`voxguard --help`) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from siamese.config import AudioConfig, FrontendConfig
    from siamese.frontends.base import Frontend

# kind -> "module:Class". Order is the order shown in CLI choices.
BUILTIN: dict[str, str] = {
    "loglinear": "siamese.frontends.loglinear:LogLinearFrontend",
    "logmel": "siamese.frontends.logmel:LogMelFrontend",
    "lfcc": "siamese.frontends.lfcc:LfccFrontend",
    "whisper": "siamese.frontends.whisper:WhisperFrontend",
}
_registered: dict[str, "type[Frontend] | str"] = dict(BUILTIN)


def register(kind: str, cls: "type[Frontend] | str") -> None:
    """Make `kind` available to model configs (a class, or a lazy "module:Class" string)."""
    _registered[kind] = cls


def kinds() -> tuple[str, ...]:
    """Every registered front-end kind (no import of the front-ends themselves)."""
    return tuple(_registered)


def frontend_class(kind: str) -> "type[Frontend]":
    """The class registered for `kind`; `ValueError` for an unknown kind."""
    entry = _registered.get(kind)
    if entry is None:
        raise ValueError(f"unknown front-end kind {kind!r}; known: {', '.join(kinds())}")
    if isinstance(entry, str):
        module, _, name = entry.partition(":")
        entry = getattr(importlib.import_module(module), name)
        _registered[kind] = entry
    return entry


def build_frontend(config: "FrontendConfig", audio: "AudioConfig") -> "Frontend":
    """The front-end module that `config.kind` names."""
    return frontend_class(config.kind)(config, audio)
