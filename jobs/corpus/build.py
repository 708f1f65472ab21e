"""Run a corpus build: plan -> Ray tasks (bounded in flight, cached per job) -> manifest, audit, build info."""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from jobs.corpus.config import CorpusConfig
from jobs.corpus.plan import make_plan
from jobs.corpus.worker import Job, failure_record_path, load_cached, run_job

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = (
    "clip_id", "path", "label", "generator", "family", "speaker", "source",
    "language", "split", "licence", "origin", "augmentation", "duration_s",
)


def _ensure_ray(config: CorpusConfig):  # noqa: ANN202 - returns the ray module
    """Join the cluster (`config.ray_address`, which `voxguard corpus` fills from VOXGUARD_RAY_ADDRESS,
    else Ray's RAY_ADDRESS; with token auth) or start a local Ray: the same start-up as every other job."""
    import ray

    from cluster.local import init_ray

    init_ray(
        config.ray_address or None,
        num_cpus=config.workers or os.cpu_count() or 1,
        # A small local cluster: the object store only carries small row lists.
        object_store_memory=100 * 1024**2,
        log_to_driver=False,
    )
    return ray


def _run_with_ray(jobs: list[Job], config: CorpusConfig) -> tuple[list[dict[str, Any]], list[str]]:
    """Run jobs as Ray tasks, at most `chunk_size` in flight; returns (results, errors)."""
    ray = _ensure_ray(config)
    remote = ray.remote(num_cpus=1, max_retries=1)(_safe_run)
    pending: list[Any] = []
    results, errors = [], []
    queue = list(jobs)
    done_count = 0
    while queue or pending:
        while queue and len(pending) < config.chunk_size:
            pending.append(remote.remote(queue.pop(0), str(config.out)))
        ready, pending = ray.wait(pending, num_returns=1)
        for outcome in ray.get(ready):
            (errors if "error" in outcome else results).append(outcome.get("error", outcome))
            done_count += 1
            if done_count % 100 == 0:
                log.info("corpus: %d/%d jobs done", done_count, len(jobs))
    return results, errors


def _safe_run(job: Job, out_dir: str) -> dict[str, Any]:
    """A failing job (undecodable input, generator crash) is reported, not fatal."""
    try:
        return run_job(job, Path(out_dir))
    except Exception as error:  # noqa: BLE001
        message = f"{job.kind} {job.generator} {job.origin}: {type(error).__name__}: {error}"
        record = failure_record_path(Path(out_dir), job.job_id)
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"error": message}))
        return {"error": message}


def build_corpus(config: CorpusConfig) -> Path:
    """Build or incrementally update the corpus; returns the output directory.

    Writes `manifest.parquet` (columns `MANIFEST_COLUMNS`), `audit.json` and `build_info.json`.
    Jobs whose clips already exist are not sent to Ray at all, so a repeated run does no work.
    """
    started = time.perf_counter()
    out = config.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    config = CorpusConfig(**{**config.__dict__, "out": out})
    plan = make_plan(config)
    planned = time.perf_counter()

    rows: list[dict[str, Any]] = []
    todo: list[Job] = []
    for job in plan.jobs:
        cached = load_cached(out, job)
        if cached is None:
            todo.append(job)
        else:
            rows.extend({**r, "split": plan.split[job.job_id]} for r in cached)
    results, errors = _run_with_ray(todo, config) if todo else ([], [])
    split_of = {j.job_id: plan.split[j.job_id] for j in plan.jobs}
    generation_s = sum(r["seconds"] for r in results)
    for result in results:
        rows.extend({**r, "split": split_of[result["job_id"]]} for r in result["rows"])
    generated = time.perf_counter()

    manifest = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)).sort_values("clip_id").reset_index(drop=True)
    manifest.to_parquet(out / "manifest.parquet", index=False)

    audit_s = 0.0
    if config.run_audit:
        audit_started = time.perf_counter()
        audit = run_audit(manifest, plan.inputs, config.seed)
        (out / "audit.json").write_text(json.dumps(audit, indent=2))
        audit_s = time.perf_counter() - audit_started

    info = {
        "clips": len(manifest),
        "jobs_planned": len(plan.jobs),
        "jobs_run": len(results),
        "jobs_cached": len(plan.jobs) - len(todo),
        "jobs_failed": len(errors),
        "errors": errors[:50],
        "counts": {
            "split_label": _counts(manifest, ["split", "label"]),
            "split_family": _counts(manifest, ["split", "family"]),
            "generator": _counts(manifest, ["generator"]),
            "split_generator": _counts(manifest, ["split", "generator"]),
        },
        "generator_split": plan.generator_split,
        "timings_s": {
            "plan": round(planned - started, 2),
            "generate_wall": round(generated - planned, 2),
            "generate_cpu_sum": round(generation_s, 2),
            "audit": round(audit_s, 2),
            "total": round(time.perf_counter() - started, 2),
        },
        "config": {k: (str(v) if isinstance(v, Path) else [str(p) for p in v] if isinstance(v, tuple) else v)
                   for k, v in config.__dict__.items()},
    }
    (out / "build_info.json").write_text(json.dumps(info, indent=2))
    return out


def _counts(frame: pd.DataFrame, keys: list[str]) -> dict[str, int]:
    return {"/".join(map(str, k if isinstance(k, tuple) else (k,))): int(v)
            for k, v in Counter(map(tuple, frame[keys].to_numpy())).items()} if len(frame) else {}


def run_audit(manifest: pd.DataFrame, inputs: list, seed: int) -> dict[str, Any]:
    """Shortcut audit of the raw inputs and of the processed clips (see `jobs.corpus.audit`)."""
    from jobs.corpus.audit import audit_manifest, audit_raw

    raw = audit_raw([str(c.path) for c in inputs], [c.label for c in inputs], [c.speaker for c in inputs], seed)
    return {"raw_inputs": raw, **audit_manifest(manifest, seed)}
