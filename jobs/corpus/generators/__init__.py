"""Generator registry: one module per family (classic TTS, neural TTS, vocoder copy-synthesis)."""

from __future__ import annotations

from functools import lru_cache

from jobs.corpus.generators.base import CopyGenerator, TTSGenerator
from jobs.corpus.generators.classic import classic_generators
from jobs.corpus.generators.neural import neural_generators
from jobs.corpus.generators.vocoders import vocoder_generators

Generator = TTSGenerator | CopyGenerator


@lru_cache(maxsize=1)
def registry() -> dict[str, Generator]:
    """Every known generator by name (available or not on this machine)."""
    gens: list[Generator] = [*classic_generators(), *neural_generators(), *vocoder_generators()]
    return {g.name: g for g in gens}


def available(families: tuple[str, ...]) -> list[Generator]:
    """Generators of the requested families that can run here, in a stable order."""
    return [g for g in registry().values() if g.family in families and g.available()]


__all__ = ["CopyGenerator", "Generator", "TTSGenerator", "available", "registry"]
