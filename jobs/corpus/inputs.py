"""Read input clips (folders or manifest CSVs) into `SourceClip`s, deriving missing speaker ids."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus", ".aac", ".webm", ".aiff", ".aif"}

# Sources whose language we know (the shared corpus: English + Mandarin, a little Japanese/Swedish).
_LANGUAGE_HINTS: tuple[tuple[str, str], ...] = (
    ("cantonese", "yue"),
    ("mandarin", "zh"),
    ("thuhcsi", "zh"),
    ("commonvoice-ja", "ja"),
    ("swedish", "sv"),
    ("librispeech", "en"),
    ("wsj", "en"),
    ("lrs3", "en"),
    ("fsdd", "en"),
    ("commonvoice-en", "en"),
    ("blizzard", "en"),
    ("espnet", "en"),
    ("tacotron", "en"),
    ("glowtts", "en"),
    ("waveglow", "en"),
    ("mailabs", "en"),
)


@dataclass(frozen=True)
class SourceClip:
    """One input clip as given (before any processing)."""

    path: Path
    label: str  # "bonafide" | "spoof"
    source: str
    speaker: str
    licence: str
    language: str
    sample_rate: int | None = None


def load_inputs(paths: tuple[Path, ...], default_label: str) -> list[SourceClip]:
    """All clips from folders / manifests; a manifest's own label column wins over `default_label`."""
    clips: list[SourceClip] = []
    for path in paths:
        path = Path(path)
        if path.is_dir() and (path / "manifest.csv").is_file():
            path = path / "manifest.csv"
        if path.is_file() and path.suffix.lower() == ".csv":
            clips.extend(_from_manifest(path, default_label))
        elif path.is_dir():
            clips.extend(_from_folder(path, default_label))
        else:
            raise FileNotFoundError(f"no such input folder or manifest: {path}")
    unique = {c.path: c for c in clips}  # the same file given twice counts once
    return sorted(unique.values(), key=lambda c: str(c.path))


def _from_manifest(manifest: Path, default_label: str) -> list[SourceClip]:
    root = manifest.parent
    out: list[SourceClip] = []
    with manifest.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            audio = Path(row["path"])
            audio = audio if audio.is_absolute() else (root / audio)
            label = (row.get("label") or default_label).strip().lower()
            label = "bonafide" if label in {"bonafide", "bona-fide", "real", "genuine"} else "spoof"
            source = (row.get("source") or manifest.parent.name).strip()
            rate = row.get("sample_rate") or ""
            out.append(
                SourceClip(
                    path=audio.resolve(),
                    label=label,
                    source=source,
                    speaker=derive_speaker(source, audio.name, row.get("speaker") or ""),
                    licence=(row.get("license") or row.get("licence") or "").strip(),
                    language=(row.get("language") or guess_language(source)).strip(),
                    sample_rate=int(float(rate)) if rate.strip() else None,
                )
            )
    return out


def _from_folder(folder: Path, default_label: str) -> list[SourceClip]:
    out = []
    for audio in sorted(folder.rglob("*")):
        if audio.suffix.lower() not in AUDIO_SUFFIXES or not audio.is_file():
            continue
        # The first folder level below the root names the source (e.g. recordings/alice/x.wav).
        rel = audio.relative_to(folder)
        source = rel.parts[0] if len(rel.parts) > 1 else folder.name
        out.append(
            SourceClip(
                path=audio.resolve(),
                label=default_label,
                source=source,
                speaker=derive_speaker(source, audio.name, ""),
                licence="",
                language=guess_language(source),
            )
        )
    return out


def guess_language(source: str) -> str:
    """Language code from the source name when it is a known corpus, else ""."""
    lowered = source.lower()
    for hint, language in _LANGUAGE_HINTS:
        if hint in lowered:
            return language
    return ""


def derive_speaker(source: str, file_name: str, given: str) -> str:
    """A speaker id: the given one, else one read from the file name, else source + file group.

    Speaker ids matter for leakage-free splits, so an unknown speaker is assumed to be
    shared by the files of one source that differ only by a trailing index.
    """
    given = given.strip()
    if given and given.lower() != "nan":
        return given
    stem = Path(file_name).stem
    if "__" in stem:  # the shared corpus prefixes file names with "<source>__"
        stem = stem.split("__", 1)[1]
    lowered = source.lower()
    if "librispeech" in lowered or re.fullmatch(r"\d+-\d+-\d+", stem):
        return f"librispeech-{stem.split('-')[0]}"
    if "fsdd" in lowered:
        parts = stem.split("_")
        if len(parts) >= 3:
            return f"fsdd-{parts[1]}"
    # Drop trailing indices / case numbers: "prompt3" -> "prompt", "vc_118_2836" -> "vc".
    group = re.sub(r"([_\-.]?\d+)+$", "", stem)
    group = re.sub(r"\d+$", "", group).strip("_-.") or "x"
    return f"{source}:{group}"
