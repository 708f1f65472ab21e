"""Fill a feedback database with realistic demo data: for tests, benchmarks and demos.

Everything goes through the feedback package's own functions (reviewers,
registry, enqueue_scores, record_verdict, runs), so a seeded database is
exactly what a real deployment would contain.

    python -m voxguard.bench.review_seed sqlite:///var/demo.db --clips 500 --audio-dir var/demo-audio
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from sqlalchemy import select

from feedback import registry, reviewers, runs
from feedback.db import session_factory, session_scope, upgrade
from feedback.gate import GateDecision
from feedback.models import RUN_PENDING, RUN_SUCCEEDED, RetrainRun, ReviewItem, ScoringJob, utcnow
from feedback.queue import enqueue_scores, record_verdict
from siamese.calibration import Calibration, OperatingPoint, decision_rule
from siamese.metrics import metrics_card

SOURCES = ("archive-a", "archive-b", "podcasts")
GENERATORS = ("vits", "hifigan", "world", "griffin-lim", "espeak")
VERSIONS = ("vg-2026.01", "vg-2026.02", "vg-2026.03")
# The rule the seeded scores follow (`_rows`): scores are LLRs, bona fide from P 0.6, spoof up to P 0.4.
_BAND = math.log(0.6 / 0.4)
SEED_RULE = decision_rule(Calibration.identity(), OperatingPoint(0.0, -_BAND, _BAND, "cost"))
# name -> (password, role); passwords are for tests and demos only.
DEFAULT_REVIEWERS: dict[str, tuple[str, str]] = {
    "alice": ("alice-password", "reviewer"),
    "bob": ("bob-password", "reviewer"),
    "carol": ("carol-password", "lead"),
    "olga": ("olga-password", "operator"),
}


@dataclass
class SeedInfo:
    """What was seeded (names the tests need)."""

    url: str
    reviewers: dict[str, tuple[str, str]]
    job_ids: list[str]
    versions: list[str]
    audio_files: list[str] = field(default_factory=list)


def write_demo_audio(folder: Path, n: int, rng: np.random.Generator, rate: int = 16000) -> list[str]:
    """Short WAV files: voiced-like harmonic tones (even) and buzzy noise bursts (odd)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        dur = float(rng.uniform(6.0, 12.0))
        t = np.arange(int(dur * rate)) / rate
        f0 = 110 + 60 * np.sin(2 * np.pi * 0.3 * t) + rng.uniform(0, 80)
        phase = 2 * np.pi * np.cumsum(f0) / rate
        wave = sum(np.sin(k * phase) / k for k in range(1, 8)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)
        if i % 2:
            wave = wave + 0.3 * rng.standard_normal(t.size) * (t > dur / 2)
        wave = (0.3 * wave / np.max(np.abs(wave))).astype(np.float32)
        path = folder / f"demo_{i:03d}.wav"
        sf.write(path, wave, rate)
        paths.append(str(path))
    return paths


def _card(rng: np.random.Generator, quality: float) -> dict[str, Any]:
    """A metrics card computed (by siamese.metrics) from synthetic scores of the given separation."""
    n_b, n_s = 400, 600
    bona = rng.normal(quality, 1.0, n_b)
    spoof = rng.normal(-quality, 1.0, n_s)
    gens = rng.choice(GENERATORS, n_s)
    spoof = spoof + np.array([GENERATORS.index(g) * 0.25 for g in gens])  # some generators are harder
    scores = np.concatenate([bona, spoof])
    labels = np.concatenate([np.ones(n_b, int), np.zeros(n_s, int)])
    groups = np.concatenate([np.array(["bonafide"] * n_b), gens])
    probs = 1 / (1 + np.exp(-scores))
    return metrics_card(scores, labels, llrs=scores, groups=groups, probs=probs, threshold=0.0)


def _rows(n: int, audio: list[str], rng: np.random.Generator, offset: int = 0) -> Iterator[dict[str, Any]]:
    for i in range(offset, offset + n):
        uri = audio[i] if i < len(audio) else f"/archive/{SOURCES[i % 3]}/clip_{i:06d}.wav"
        duration = float(sf.info(uri).duration) if i < len(audio) else float(rng.uniform(4, 60))
        starts = np.arange(0.0, max(duration - 2.0, 0.1), 2.0)
        level = rng.normal(0, 2.0)
        seg_scores = level + rng.normal(0, 1.0, starts.size)
        if i % 2:  # partly synthetic: the second half looks spoofed
            seg_scores[starts.size // 2:] -= 4.0
        seg_probs = 1 / (1 + np.exp(-seg_scores))
        score = float(seg_scores.mean())
        prob = float(1 / (1 + np.exp(-score)))
        label = "bonafide" if prob >= 0.6 else "spoof" if prob <= 0.4 else "inconclusive"
        yield {
            "uri": uri, "source": SOURCES[i % 3], "duration_s": duration,
            "score": score, "prob_bonafide": prob, "label": label, "confidence": max(prob, 1 - prob),
            "flagged": label != "bonafide" or bool((seg_probs < 0.1).any()),
            "segments": [{"start_s": float(s), "end_s": float(min(s + 4.0, duration)), "score": float(w),
                          "prob_bonafide": float(p)} for s, w, p in zip(starts, seg_scores, seg_probs)],
        }


def seed(
    url: str,
    n_clips: int = 60,
    *,
    audio_dir: str | Path | None = None,
    n_audio: int = 12,
    with_reviews: bool = True,
    bcrypt_rounds: int = 4,
    seed_value: int = 0,
) -> SeedInfo:
    """Migrate `url` and fill it: reviewers, 3 model versions, 2 scoring jobs, queue, reviews, runs.

    The first `n_audio` clips are real WAV files in `audio_dir` (when given);
    the rest point at paths that do not exist (enough for listing benchmarks).
    Low bcrypt rounds keep test sign-ins fast; real accounts use the default.
    """
    rng = np.random.default_rng(seed_value)
    upgrade(url)
    factory = session_factory(url)
    audio = write_demo_audio(Path(audio_dir), min(n_audio, n_clips), rng) if audio_dir else []
    job_ids = ["job-0001", "job-0002"]
    with session_scope(factory) as s:
        for name, (password, role) in DEFAULT_REVIEWERS.items():
            reviewers.add_reviewer(s, name, password, role, actor="seed", rounds=bcrypt_rounds)
        for k, version in enumerate(VERSIONS):
            registry.register_candidate(s, version, f"models/{version}.vxpkg", threshold=0.0,
                                        metrics={"dev": _card(rng, 1.0 + 0.4 * k), "operating_point": SEED_RULE},
                                        parent=VERSIONS[k - 1] if k else None, actor="seed")
        base = utcnow() - dt.timedelta(days=30)
        registry.promote(s, VERSIONS[0], actor="seed", now=base)
        registry.promote(s, VERSIONS[1], actor="seed", now=base + dt.timedelta(days=10))
    first = (n_clips * 7) // 10
    for job_id, count, offset in ((job_ids[0], first, 0), (job_ids[1], n_clips - first, first)):
        with session_scope(factory) as s:
            enqueue_scores(s, _rows(count, audio, rng, offset), job_id, VERSIONS[1], source="/archive",
                           dest=f"/results/{job_id}", uncertain_below=0.9, actor="seed")
    with session_scope(factory) as s:
        # feedback has no "job finished" call yet (the scoring job would make it): mark the first one done.
        job = s.scalar(select(ScoringJob).where(ScoringJob.job_id == job_ids[0]))
        job.status, job.finished_at = "succeeded", utcnow()
    if with_reviews:
        _seed_reviews(factory)
    _seed_runs(factory)
    factory.kw["bind"].dispose()
    return SeedInfo(url=url, reviewers=dict(DEFAULT_REVIEWERS), job_ids=job_ids, versions=list(VERSIONS),
                    audio_files=audio)


def _seed_reviews(factory: Any) -> None:
    # Verdicts on the lowest-priority items, so the top of the queue stays open for tests.
    with session_scope(factory) as s:
        ids = list(s.scalars(select(ReviewItem.id).order_by(ReviewItem.priority, ReviewItem.id).limit(4)))
        plan = [("alice", "spoof"), ("bob", "bonafide"), ("alice", "bonafide"), ("bob", "bonafide")]
        for item_id, (who, verdict) in zip(ids, plan):
            record_verdict(s, item_id, who, verdict, note="seeded")
        if len(ids) >= 2:
            record_verdict(s, ids[0], "bob", "spoof", note="seeded second opinion")
            record_verdict(s, ids[1], "alice", "spoof", note="seeded disagreement")


def _seed_runs(factory: Any) -> None:
    now = utcnow()
    with session_scope(factory) as s:
        for k, (promote, eer) in enumerate(((True, 0.081), (False, 0.094))):
            run = RetrainRun(trigger="mismatches" if k == 0 else "age", status=RUN_PENDING,
                             reason="seeded", requested_by="scheduler",
                             created_at=now - dt.timedelta(days=20 - 5 * k))
            s.add(run)
            s.flush()
            gate = GateDecision(
                promote=promote, reason="challenger better on held-back feedback" if promote
                else "challenger not better on held-back feedback",
                champion_gate_eer=0.09, challenger_gate_eer=eer, champion_heldback_correct=40,
                challenger_heldback_correct=46 if promote else 39, champion_heldback_ce=0.41,
                challenger_heldback_ce=0.35 if promote else 0.44, n_gate=1000, n_heldback=60)
            runs.finish_run(s, run.id, RUN_SUCCEEDED, metrics={"dev": {"eer": eer}}, gate=gate.to_dict(),
                            champion=VERSIONS[0], challenger=VERSIONS[1 + k],
                            now=now - dt.timedelta(days=19 - 5 * k))


def main(argv: list[str] | None = None) -> int:
    """Seed a database from the command line (demo and manual testing)."""
    parser = argparse.ArgumentParser(prog="python -m voxguard.bench.review_seed", description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("--clips", type=int, default=60)
    parser.add_argument("--audio-dir", default=None)
    args = parser.parse_args(argv)
    info = seed(args.url, args.clips, audio_dir=args.audio_dir, n_audio=args.clips if args.audio_dir else 0)
    print(f"seeded {args.url}: {args.clips} clips, jobs {', '.join(info.job_ids)}; "
          f"reviewers {', '.join(f'{n}/{p}' for n, (p, _) in info.reviewers.items())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
