"""Typed configuration of a corpus build."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ALL_FAMILIES: tuple[str, ...] = ("bonafide", "dataset-spoof", "tts-classic", "tts-neural", "vocoder-copy")

# Generators whose split is chosen by hand rather than drawn (seeded hash) with the rest of their family.
# tts-neural has two generators: drawing would put either one in test depending on the seed. Piper stays
# in train (the model needs a neural TTS to learn from) and Kokoro, a different architecture
# (StyleTTS2-like + iSTFTNet vs VITS), is held out, so the test split always measures an unseen neural TTS.
# Every other generator (festival voices included) is drawn per family by splits.hold_out_generators.
FIXED_GENERATOR_SPLITS: dict[str, str] = {"piper-joe": "train", "kokoro": "test"}

# Bump when the processing chain changes: it is part of every clip id, so old outputs are not reused.
PROCESS_VERSION = "p1"


@dataclass(frozen=True)
class CorpusConfig:
    """Everything that decides what a build produces.

    `bonafide` / `spoof` are folders (every audio file below them) or manifest CSVs
    with at least a `path` column (optionally label, source, speaker, license, ...);
    a manifest holding both labels may be given once as `bonafide` and its spoof rows are used too.
    """

    bonafide: tuple[Path, ...]
    out: Path
    spoof: tuple[Path, ...] = ()
    families: tuple[str, ...] = ALL_FAMILIES
    # Augmented variants per clip, on top of the un-augmented copy.
    variants_per_clip: int = 2
    seed: int = 1234
    # Cap on input clips per label (None: all); also scales generation below.
    limit: int | None = None
    # Generated TTS utterances per generator (espeak-ng voices are spread over these).
    tts_per_generator: int = 60
    # Copy-synthesis jobs per bona fide clip (each picks one eligible vocoder).
    copies_per_clip: int = 1
    # HiFi-GAN runs about real time on CPU: cap how many clips it copies.
    hifigan_max: int = 80
    # Long clips are cropped to a random length drawn from [crop_min_s, crop_max_s].
    crop_min_s: float = 2.0
    crop_max_s: float = 6.0
    # Fractions of clips (by connected speaker/generator groups) held out.
    test_fraction: float = 0.2
    dev_fraction: float = 0.1
    # Generator name -> "train" | "test", overriding the draw (see FIXED_GENERATOR_SPLITS).
    fixed_splits: dict[str, str] = field(default_factory=lambda: dict(FIXED_GENERATOR_SPLITS))
    workers: int | None = None
    ray_address: str = ""
    # Tasks in flight at once (ray.get in bounded chunks keeps memory flat).
    chunk_size: int = 64
    run_audit: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.families) - set(ALL_FAMILIES)
        if unknown:
            raise ValueError(f"unknown families {sorted(unknown)}; known: {ALL_FAMILIES}")
        bad = {name: split for name, split in self.fixed_splits.items() if split not in ("train", "test")}
        if bad:
            raise ValueError(f"fixed_splits must map to 'train' or 'test', got {bad}")
        if self.variants_per_clip < 0:
            raise ValueError("variants_per_clip must be >= 0")
        object.__setattr__(self, "bonafide", tuple(Path(p) for p in self.bonafide))
        object.__setattr__(self, "spoof", tuple(Path(p) for p in self.spoof))
        object.__setattr__(self, "out", Path(self.out))
