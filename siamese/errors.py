"""Typed errors for audio input. Each carries a stable machine-readable `code`
so batch jobs can turn it into an error row instead of crashing."""

from __future__ import annotations


class AudioError(Exception):
    """Base class: this input cannot be scored. `code` is stable, `str()` is for people."""

    code = "audio_error"

    def __str__(self) -> str:
        message = super().__str__()
        return f"{self.code}: {message}" if message else self.code


class EmptyInput(AudioError):
    """Zero bytes, or a container holding no samples."""

    code = "empty"


class NotAudio(AudioError):
    """The bytes are not a recognisable audio container (e.g. a text file or JPEG named .wav)."""

    code = "not_audio"


class UndecodableAudio(AudioError):
    """The container is recognised but the stream cannot be decoded (truncated, corrupt)."""

    code = "undecodable"


class SilentAudio(AudioError):
    """Decoded, but digital silence (or practically so): nothing to judge."""

    code = "silent"


class TooShort(AudioError):
    """Less audio than the minimum the detector accepts."""

    code = "too_short"


class TooLarge(AudioError):
    """Over the configured size or duration limit."""

    code = "too_large"


class InvalidPackage(ValueError):
    """The file is not a model package this version can read (a user input, not a bug)."""


class MissingWeights(InvalidPackage):
    """The package's front-end needs pretrained weights that are not available (or not usable) here."""
