"""One job = one input clip, one TTS utterance or one copy-synthesis: make the audio, process it the
same way for both classes, write the clean copy plus K augmented variants, return manifest rows.

Runs inside a Ray task; also callable directly (tests, debugging).
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from jobs.corpus import augment, process
from jobs.corpus.generators import registry
from siamese.audio import decode_audio
from siamese.config import AudioConfig


@dataclass(frozen=True)
class Job:
    """Everything a worker needs; `job_id` hashes all of it (plus the processing version)."""

    job_id: str
    kind: str  # "input" | "tts" | "copy"
    label: str
    generator: str
    family: str
    speaker: str
    source: str
    language: str
    licence: str
    origin: str
    variants: int
    seed: int
    crop_min_s: float
    crop_max_s: float
    text: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    # For "input" and "copy": the audio file; the crop is seeded by it so a copy has the same words.
    input_path: str = ""
    crop_key: str = ""

    def clip_id(self, variant: int) -> str:
        """Stable id of one output clip."""
        return f"{self.job_id[:20]}-{variant}"


def job_record_path(out_dir: Path, job_id: str) -> Path:
    """Where a finished job's rows are stored (the cache)."""
    return out_dir / "jobs" / job_id[:2] / f"{job_id}.json"


def clip_path(out_dir: Path, clip_id: str) -> Path:
    """Where one output clip's audio goes."""
    return out_dir / "clips" / clip_id[:2] / f"{clip_id}.flac"


def failure_record_path(out_dir: Path, job_id: str) -> Path:
    """Where a failed job's error is kept, so a re-run does not retry it (bump PROCESS_VERSION to retry)."""
    return out_dir / "jobs" / job_id[:2] / f"{job_id}.failed.json"


def load_cached(out_dir: Path, job: Job) -> list[dict[str, Any]] | None:
    """The job's rows when it finished before and all its audio files still exist, else None."""
    record = job_record_path(out_dir, job.job_id)
    if failure_record_path(out_dir, job.job_id).is_file():
        return []
    if not record.is_file():
        return None
    rows = json.loads(record.read_text())["rows"]
    if len(rows) != job.variants + 1 or not all(Path(r["path"]).is_file() for r in rows):
        return None
    return rows


def source_audio(job: Job) -> np.ndarray:
    """The processed-but-unfinished 16 kHz waveform before level/pad/augmentation."""
    if job.kind == "tts":
        wave, rate = registry()[job.generator].synthesize(job.text, job.language, job.params)
        x = process.to_16k(wave, rate)
        return process.trim_silence(x)
    decoded = decode_audio(job.input_path, AudioConfig(sample_rate=process.SAMPLE_RATE, min_duration_s=0.1))
    x = process.trim_silence(decoded.waveform)
    x = process.crop(x, random.Random(f"{job.seed}:crop:{job.crop_key}"), job.crop_min_s, job.crop_max_s)
    if job.kind == "copy":
        wave, rate = registry()[job.generator].resynthesize(x, process.SAMPLE_RATE)
        x = process.trim_silence(process.to_16k(wave, rate))
    return x


def run_job(job: Job, out_dir: Path) -> dict[str, Any]:
    """Make one job's clips (or reuse them); return {"rows": [...], "cached": bool, "seconds": float}."""
    out_dir = Path(out_dir)
    cached = load_cached(out_dir, job)
    if cached is not None:
        return {"rows": cached, "cached": True, "seconds": 0.0, "job_id": job.job_id}
    started = time.perf_counter()
    base = source_audio(job)
    if len(base) < 0.1 * process.SAMPLE_RATE or float(np.max(np.abs(base), initial=0.0)) < 1e-4:
        raise ValueError(f"{job.kind} {job.generator} {job.origin}: no usable audio")
    rows = []
    for variant in range(job.variants + 1):
        # Same RNG recipe for every clip of every class: the augmentation distribution is shared.
        rng = random.Random(f"{job.seed}:variant:{job.job_id}:{variant}")
        x, description = (base, "") if variant == 0 else augment.augment(base, rng)
        x = process.finish(x, rng)
        clip_id = job.clip_id(variant)
        path = clip_path(out_dir, clip_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}.flac")
        soundfile.write(tmp, x, process.SAMPLE_RATE, subtype="PCM_16")
        tmp.replace(path)  # atomic: an interrupted run never leaves a half-written clip behind
        rows.append(
            {
                "clip_id": clip_id,
                "path": str(path.resolve()),
                "label": job.label,
                "generator": job.generator,
                "family": job.family,
                "speaker": job.speaker,
                "source": job.source,
                "language": job.language,
                "licence": job.licence,
                "origin": job.origin,
                "augmentation": description,
                "duration_s": round(len(x) / process.SAMPLE_RATE, 4),
            }
        )
    record = job_record_path(out_dir, job.job_id)
    record.parent.mkdir(parents=True, exist_ok=True)
    tmp_record = record.with_suffix(f".tmp{os.getpid()}")
    tmp_record.write_text(json.dumps({"job": asdict(job), "rows": rows}, ensure_ascii=False))
    tmp_record.replace(record)
    return {"rows": rows, "cached": False, "seconds": time.perf_counter() - started, "job_id": job.job_id}
