"""Read a labelled-clip manifest (CSV) into `LabelledRow`s, keeping every row accounted for.

The format is the one users already have for their own archives and for public sets
(ASVspoof / In-the-Wild protocol files turned into CSV, the harvested demo-page corpus,
verified feedback exports): one row per clip with at least `path` and `label`, and
optionally `system` (or `generator` / `source`), `family`, `speaker`, `group`, `corpus`,
`language`, `license` / `licence` and, for clips kept in git mirrors, `repo`, `commit`,
`repo_path`. A row that cannot be used becomes a `Rejection` with a stable reason code,
never a silent drop.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from voxguard.errors import InputError

LABELS: dict[str, str] = {
    "bonafide": "bonafide", "bona-fide": "bonafide", "bona fide": "bonafide", "real": "bonafide",
    "genuine": "bonafide", "spoof": "spoof", "fake": "spoof", "synthetic": "spoof", "deepfake": "spoof",
}


@dataclass(frozen=True)
class LabelledRow:
    """One usable row of a labelled manifest (file not yet checked)."""

    line: int  # 1-based line in the CSV (header = line 1), for error messages
    path: str  # as written in the manifest
    label: str  # "bonafide" | "spoof"
    system: str  # the generator for spoofs; the bona fide corpus/slug for bona fide rows
    family: str
    speaker: str
    group: str  # what must stay on one side of a split: a page / matched pair / speaker
    corpus: str  # bona fide source corpus (LJSpeech, VCTK...), for per-corpus false rejections
    language: str
    licence: str
    repo: str = ""
    commit: str = ""
    repo_path: str = ""

    @property
    def origin(self) -> str:
        """Where the clip came from: `repo@commit:path` for mirrored clips, else the manifest path."""
        if self.repo and self.commit and self.repo_path:
            return f"{self.repo}@{self.commit[:12]}:{self.repo_path}"
        return self.path


@dataclass(frozen=True)
class Rejection:
    """A manifest row that was not imported, and why (`reason` is a stable code)."""

    line: int
    path: str
    reason: str
    detail: str


def _cell(row: dict[str, str | None], *names: str) -> str:
    for name in names:
        value = row.get(name)
        if value is not None and str(value).strip() and str(value).strip().lower() != "nan":
            return str(value).strip()
    return ""


def bonafide_corpus(system: str) -> str:
    """`bonafide-ljspeech` -> `ljspeech`: the corpus named by a bona fide system slug."""
    return system[len("bonafide-"):] if system.startswith("bonafide-") else system


def read_labelled_manifest(path: Path) -> tuple[list[LabelledRow], list[Rejection]]:
    """All rows of `path`: usable ones, and rejections (`blank_row`, `unknown_label`, `missing_path`)."""
    rows: list[LabelledRow] = []
    rejected: list[Rejection] = []
    with Path(path).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"path", "label"} - set(reader.fieldnames or ())
        if missing:
            raise InputError(f"{path}: the manifest needs the columns {sorted(missing)} (has {reader.fieldnames})")
        for number, raw in enumerate(reader, start=2):
            if not any(str(v or "").strip() for v in raw.values()):
                rejected.append(Rejection(number, "", "blank_row", "empty line in the manifest"))
                continue
            clip = _cell(raw, "path")
            if not clip:
                rejected.append(Rejection(number, "", "missing_path", "the row has no path"))
                continue
            label = LABELS.get(_cell(raw, "label").lower())
            if label is None:
                rejected.append(Rejection(number, clip, "unknown_label",
                                          f"label {_cell(raw, 'label')!r} is not bonafide or spoof"))
                continue
            system = _cell(raw, "system", "generator", "source") or ("bonafide" if label == "bonafide" else "unknown")
            family = _cell(raw, "family") or ("bonafide" if label == "bonafide" else "unknown")
            if label == "bonafide":
                family = "bonafide"
            repo = _cell(raw, "repo")
            speaker = _cell(raw, "speaker") or f"{repo or Path(clip).parent.name}:{system}"
            rows.append(LabelledRow(
                line=number, path=clip, label=label, system=system, family=family, speaker=speaker,
                group=_cell(raw, "group", "pair_id") or repo or speaker,
                corpus=_cell(raw, "corpus") or (bonafide_corpus(system) if label == "bonafide" else ""),
                language=_cell(raw, "language"), licence=_cell(raw, "license", "licence"),
                repo=repo, commit=_cell(raw, "commit"), repo_path=_cell(raw, "repo_path"),
            ))
    return rows, rejected
