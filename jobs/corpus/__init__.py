"""Training-corpus builder: bona fide + generated + ready-made spoofs, shortcut-free, split leave-generator-out.

Library entry point: `build_corpus(CorpusConfig(...)) -> Path` (the output directory,
holding `manifest.parquet`, `audit.json` and `build_info.json`).
"""

from jobs.corpus.config import CorpusConfig

__all__ = ["CorpusConfig", "build_corpus"]


def build_corpus(config: CorpusConfig):  # noqa: ANN201 - re-exported, typed in build.py
    """Build (or incrementally update) the corpus described by `config`; return its directory."""
    from jobs.corpus.build import build_corpus as _build

    return _build(config)
