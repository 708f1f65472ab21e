"""Which corpus a retraining fine-tunes on, without the user having to name it.

Order: the `--manifest` given; else the manifest the champion package records
(its training metadata names the corpus it was trained on, e.g.
`var/corpus/manifest.parquet`, resolved against the working directory and then
the repository); else, when that corpus was never built on this machine (a fresh
clone: building it takes ~30 min, `make corpus`), the bundled sample set
(`examples/manifest.csv`, 24 labelled clips).

The fallback is honest about what it is: those clips are part of the bundled
model's own training corpus, so the gate's "not worse on the gate set" check
runs on clips the champion has seen and is weak; the held-back feedback check is
unaffected. The caller prints `BaseData.warning` and the run records `describe()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from voxguard.errors import InputError

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_MANIFEST = REPO_ROOT / "examples" / "manifest.csv"
FALLBACK_NAME = "sample-set-manifest.parquet"
BUILD_HINT = "build the corpus with `make corpus` (about 30 min) or pass --manifest"


@dataclass(frozen=True)
class BaseData:
    """The manifest to fine-tune on and where it came from."""

    manifest: Path
    source: str  # "given" | "recorded" | "sample-set"
    recorded: str | None = None  # what the champion package names, if anything

    @property
    def fallback(self) -> bool:
        return self.source == "sample-set"

    @property
    def warning(self) -> str | None:
        """One line for the user when the fallback is used, else None."""
        if not self.fallback:
            return None
        missing = f"the model's corpus {self.recorded!r} is not built here" if self.recorded else \
            "the model names no training corpus"
        return (f"{missing}; fine-tuning on feedback + the bundled sample set (24 clips the model was trained on, "
                f"so the gate-set check is weak); for a real gate set {BUILD_HINT}")

    def describe(self) -> str:
        return {"given": f"{self.manifest} (--manifest)", "recorded": f"{self.manifest} (the model's corpus)",
                "sample-set": "bundled sample set (examples/manifest.csv)"}[self.source]


def _existing(recorded: str) -> Path | None:
    path = Path(recorded)
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, REPO_ROOT / path]
    return next((c.resolve() for c in candidates if c.exists()), None)


def resolve_base_data(given: Path | None, recorded: str | None, work_dir: Path,
                      exclude: frozenset[str] = frozenset()) -> BaseData:
    """The base training data (see module docstring).

    `work_dir` receives the sample-set manifest when the fallback is used;
    `exclude` lists clip paths left out of it (the reviewers' feedback clips, so a
    held-back clip is never also trained on).
    """
    if given is not None:
        if not Path(given).exists():
            raise InputError(f"--manifest {given} does not exist; {BUILD_HINT}")
        return BaseData(Path(given), "given", recorded)
    if recorded and Path(recorded).name != FALLBACK_NAME:
        found = _existing(recorded)
        if found is not None:
            return BaseData(found, "recorded", recorded)
    return BaseData(write_sample_manifest(work_dir / FALLBACK_NAME, exclude), "sample-set", recorded)


def write_sample_manifest(out: Path, exclude: frozenset[str] = frozenset()) -> Path:
    """The bundled sample set as a training manifest with an explicit split.

    The raw CSV has no speakers and only 24 clips, so the usual group-disjoint
    split could leave a split without one class; here each class is dealt out in
    name order: every 4th clip to test, the next to dev, the rest to train.
    """
    raw = pd.read_csv(SAMPLE_MANIFEST)
    clips = SAMPLE_MANIFEST.parent / "clips"
    rows = []
    excluded = {str(Path(p).resolve()) for p in exclude}
    for label, group in raw.sort_values("file").groupby("label", sort=True):
        group = group[[str((clips / f).resolve()) not in excluded for f in group["file"]]]
        for i, r in enumerate(group.itertuples()):
            split = "test" if i % 4 == 0 else "dev" if i % 4 == 1 else "train"
            rows.append({
                "clip_id": f"sample:{r.file}", "path": str((clips / r.file).resolve()), "label": label,
                "generator": "bonafide" if label == "bonafide" else str(r.source),
                "family": "bonafide" if label == "bonafide" else "dataset-spoof",
                "speaker": f"{r.source}:{r.file}", "source": str(r.source), "language": "en", "split": split,
                "licence": str(r.license), "origin": "examples", "augmentation": "", "duration_s": float(r.duration_s),
            })
    frame = pd.DataFrame(rows)
    for split in ("train", "dev", "test"):
        if set(frame.loc[frame["split"] == split, "label"]) != {"bonafide", "spoof"}:
            raise InputError(f"the bundled sample set has too few clips left for a {split} split once the feedback "
                             f"clips are set apart; {BUILD_HINT}")
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)  # Parquet keeps the empty `augmentation` strings (CSV reads them as NaN)
    return out
