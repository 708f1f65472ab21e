"""The bundled public-domain sentences used as TTS input."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SENTENCES_FILE = Path(__file__).parent / "data" / "sentences.txt"


@dataclass(frozen=True)
class Utterance:
    """One line of text to synthesise; `text_id` is stable (file stem + line number)."""

    text_id: str
    language: str
    text: str


@lru_cache(maxsize=4)
def load_sentences(path: Path = SENTENCES_FILE) -> tuple[Utterance, ...]:
    """Parse `LANGUAGE<TAB>TEXT` lines, skipping comments and blanks."""
    out = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        language, _, text = line.partition("\t")
        if not text.strip():
            raise ValueError(f"{path}:{number}: expected LANGUAGE<TAB>TEXT")
        out.append(Utterance(f"{Path(path).stem}:{number}", language.strip(), text.strip()))
    return tuple(out)


def sentences_for(languages: set[str] | None = None) -> list[Utterance]:
    """Sentences, optionally restricted to the given language codes."""
    return [u for u in load_sentences() if languages is None or u.language in languages]
