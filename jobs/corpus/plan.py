"""Turn inputs + config into a deterministic list of jobs with their splits."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from jobs.corpus.config import PROCESS_VERSION, CorpusConfig
from jobs.corpus.generators import CopyGenerator, TTSGenerator, available
from jobs.corpus.inputs import SourceClip, load_inputs
from jobs.corpus.splits import Unit, assign_splits, stable_unit
from jobs.corpus.text import sentences_for
from jobs.corpus.worker import Job

GENERATED_SOURCE = "voxguard-generated"


@dataclass(frozen=True)
class Plan:
    """Jobs to run, the split of each job, and the generator split (for build_info)."""

    jobs: list[Job]
    split: dict[str, str]
    generator_split: dict[str, str]
    inputs: list[SourceClip]


def _job_id(payload: dict) -> str:
    payload = {k: v for k, v in payload.items() if k != "job_id"}
    blob = json.dumps({"v": PROCESS_VERSION, **payload}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()


def _finalise(job: Job) -> Job:
    identity = asdict(job)
    if job.input_path:  # the input's size stands in for its content (cheap, catches replaced files)
        identity["input_size"] = Path(job.input_path).stat().st_size
    # Only what changes the audio belongs in the id; labels/licences may be edited freely.
    for key in ("licence", "source", "speaker", "language", "family", "label"):
        identity.pop(key, None)
    return replace(job, job_id=_job_id(identity))


def select_inputs(config: CorpusConfig) -> list[SourceClip]:
    """Bona fide (+ ready-made spoofs when that family is on), capped per label by `limit`."""
    clips = load_inputs(config.bonafide, "bonafide") + load_inputs(config.spoof, "spoof")
    clips = list({c.path: c for c in clips}.values())
    wanted = {"bonafide"} | ({"spoof"} if "dataset-spoof" in config.families else set())
    clips = [c for c in clips if c.label in wanted]
    if config.limit is not None:
        # A hashed (not alphabetical) sample, so a small limit still spans many sources.
        clips = sorted(clips, key=lambda c: stable_unit(config.seed, "input", c.path))
        per_label: dict[str, int] = {}
        kept = []
        for c in clips:
            if per_label.get(c.label, 0) < config.limit:
                per_label[c.label] = per_label.get(c.label, 0) + 1
                kept.append(c)
        clips = kept
    return sorted(clips, key=lambda c: str(c.path))


def _input_job(c: SourceClip, config: CorpusConfig) -> Job:
    bona = c.label == "bonafide"
    return _finalise(
        Job(
            job_id="", kind="input", label=c.label, generator="bonafide" if bona else c.source,
            family="bonafide" if bona else "dataset-spoof", speaker=c.speaker, source=c.source,
            language=c.language, licence=c.licence, origin=str(c.path), variants=config.variants_per_clip,
            seed=config.seed, crop_min_s=config.crop_min_s, crop_max_s=config.crop_max_s,
            input_path=str(c.path), crop_key=str(c.path),
        )
    )


def _tts_jobs(gen: TTSGenerator, config: CorpusConfig) -> list[Job]:
    utterances = sentences_for(set(gen.languages))
    if not utterances:
        return []
    n = config.tts_per_generator if config.limit is None else min(config.tts_per_generator, config.limit)
    rng = random.Random(f"{config.seed}:tts:{gen.name}")
    order = sorted(utterances, key=lambda u: stable_unit(config.seed, gen.name, u.text_id))
    jobs = []
    for i in range(n):
        utt = order[i % len(order)]  # cycling the shuffled list keeps lengths varied
        params, speaker = gen.sample(rng, utt.language)
        jobs.append(
            _finalise(
                Job(
                    job_id="", kind="tts", label="spoof", generator=gen.name, family=gen.family,
                    speaker=speaker, source=GENERATED_SOURCE, language=utt.language, licence=gen.licence,
                    origin=f"text:{utt.text_id}", variants=config.variants_per_clip, seed=config.seed,
                    crop_min_s=config.crop_min_s, crop_max_s=config.crop_max_s, text=utt.text,
                    params={**params, "n": i},
                )
            )
        )
    return jobs


def _copy_jobs(
    bona: list[tuple[SourceClip, str]], gens: list[CopyGenerator], gen_split: dict[str, str], config: CorpusConfig
) -> list[tuple[Job, str]]:
    out = []
    used: dict[str, int] = {}
    for clip, split in sorted(bona, key=lambda cs: stable_unit(config.seed, "copy", cs[0].path)):
        eligible = [g for g in gens if gen_split[g.name] == ("test" if split == "test" else "train")]
        eligible = [g for g in eligible if g.name != "hifigan-copy" or used.get(g.name, 0) < config.hifigan_max]
        rng = random.Random(f"{config.seed}:copy:{clip.path}")
        for gen in rng.sample(eligible, k=min(config.copies_per_clip, len(eligible))):
            used[gen.name] = used.get(gen.name, 0) + 1
            job = Job(
                job_id="", kind="copy", label="spoof", generator=gen.name, family=gen.family,
                speaker=clip.speaker, source=clip.source, language=clip.language, licence=gen.licence,
                origin=str(clip.path), variants=config.variants_per_clip, seed=config.seed,
                crop_min_s=config.crop_min_s, crop_max_s=config.crop_max_s,
                input_path=str(clip.path), crop_key=str(clip.path),
            )
            out.append((_finalise(job), split))
    return out


def make_plan(config: CorpusConfig) -> Plan:
    """All jobs of a build, with leakage-free splits."""
    inputs = select_inputs(config)
    gens = available(tuple(f for f in config.families if f not in ("bonafide", "dataset-spoof")))
    jobs = [_input_job(c, config) for c in inputs]
    for gen in gens:
        if isinstance(gen, TTSGenerator):
            jobs.extend(_tts_jobs(gen, config))
    units = [
        Unit(j.job_id, j.speaker, None if j.label == "bonafide" else j.generator, j.family, j.label) for j in jobs
    ]
    copy_gens = [g for g in gens if isinstance(g, CopyGenerator)]
    split, gen_split = assign_splits(
        units, {g.name: g.family for g in copy_gens}, config.seed, config.test_fraction, config.dev_fraction,
        config.fixed_splits,
    )
    by_path = {str(c.path): c for c in inputs}
    bona = [(by_path[j.origin], split[j.job_id]) for j in jobs if j.kind == "input" and j.label == "bonafide"]
    for job, s in _copy_jobs(bona, copy_gens, gen_split, config):
        jobs.append(job)
        split[job.job_id] = s
    return Plan(jobs=jobs, split=split, generator_split=gen_split, inputs=inputs)
