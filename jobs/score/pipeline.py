"""`run_scoring`: the bulk scoring job, from SOURCE to a Parquet dataset in DEST.

Stages (streaming; Ray Data, or this process's threads on a machine where Ray would run one
CPU actor anyway: `jobs.score.executors`):
  driver listing -> small URI blocks
  -> CPUs: `ClipScorer` actors, each running one call per core it holds on threads
     (read, fingerprint, decode, resample, cut into pieces and score them in the same
     process: no copies between stages, one torch import and model per actor)
     GPUs: `decode_batch` CPU tasks -> `PieceScorer` actor pool (batched inference on a
     GPU or a fraction of one)
  -> driver: regroup pieces into clips, aggregate (calibration and operating point only),
     count them for progress, write Parquet parts.

Output parts hold up to `part_size` clips (fewer when `commit_every_s` passed first)
and are written atomically, which is what makes `resume=True` exact after a crash
(see `jobs.score.resume`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq

from jobs.score.output import COLUMNS, now_utc, to_table
from jobs.score.executors import iter_local, local_cpus, resolve_executor
from jobs.score.progress import Progress
from jobs.score.resume import DoneIndex, drop_transient_errors, load_done
from jobs.score.sources import iter_objects
from jobs.score.stages import ClipScorer, PieceScorer, decode_batch
from voxguard.storage import StorageOptions, filesystem
from voxguard.storage.parts import check_writable, list_parts, write_part
from jobs.score.summary import JobStats
from siamese.config import ENGINES
from siamese.package_meta import PackageRef
from siamese.verdict import VerdictRule
from voxguard.errors import ConfigError, OutputExists
from voxguard.roots import parse_roots
from jobs.score.config import ScoringSettings

if TYPE_CHECKING:
    from siamese.package import ModelPackage

OnRows = Callable[[list[dict[str, Any]]], None]
# URIs per input block: small blocks keep several decode tasks busy and bound what is in flight.
ITEMS_PER_BLOCK = 4
DECODE_TASK_MEMORY = 1024**3  # worker (Python + torch, ~400 MiB) plus one decoded clip
# Pieces per actor call: enough short clips to fill a batch of windows, a bounded amount of audio.
PIECES_PER_CALL = 16
# Objects per fused actor call (CPU): enough short clips to batch their windows, a
# bounded amount of decoded audio, and a progress update at the driver every call.
ITEMS_PER_CALL = 8


@dataclass
class _Clip:
    """Pieces of one clip seen so far (the driver regroups them)."""

    meta: dict[str, Any]
    n_pieces: int
    pieces: dict[int, tuple[list[int], list[int], list[float]]] = field(default_factory=dict)


def new_job_id() -> str:
    """`score-YYYYMMDD-HHMMSS-xxxxxx`."""
    return f"score-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def run_scoring(
    source: str,
    dest: str,
    model: "str | Path | PackageRef | ModelPackage | None" = None,
    *,
    settings: ScoringSettings,
    resume: bool = False,
    overwrite: bool = False,
    limit: int | None = None,
    batch_size: int | None = None,
    num_actors: int | None = None,
    gpus_per_actor: float | None = None,
    job_id: str | None = None,
    part_size: int = 1000,
    top_n: int = 10,
    on_rows: OnRows | None = None,
    progress: Callable[[str], None] | None = None,
    progress_every_s: float = 10.0,
    progress_bar: bool | None = None,
    commit_every_s: float = 30.0,
    fused: bool | None = None,
    engine: str | None = None,
    group: str | None = None,
    enrolled: np.ndarray | None = None,
    replay: bool = False,
    executor: str | None = None,
) -> dict[str, Any]:
    """Score every object of `source` into Parquet parts under `dest`; return the job summary.

    `on_rows(rows)` is called after each part is durably written, with that part's
    rows (dicts with the output columns): the hook for the feedback database.
    `progress` receives progress lines (default: stderr); pass `lambda s: None` to silence.
    Clips are counted as they are scored (`jobs.score.progress`): a line every
    `progress_every_s`, or a tqdm bar when `progress_bar` (default: progress goes
    to stderr and stderr is a terminal).
    `engine`: inference engine, "float" | "int8" | "onnx" (default: the settings'); see
    `siamese.engines` and `voxguard bench engines` for what each costs in accuracy.
    `fused`: None picks the layout for the cluster (CPU: decode inside the scoring
    actors; GPU: separate decode tasks); False forces two stages on Ray (benchmarks).
    `executor`: "auto" | "ray" | "local" (default: the settings'); where the calls run
    (`jobs.score.executors`: auto is this process on a machine where Ray would run a
    single CPU actor, Ray Data everywhere else).
    `part_size` and `commit_every_s`: a part is written at `part_size` rows or
    `commit_every_s` seconds after the previous one, whichever is first (the resume unit).
    `model`: a package path, a `PackageRef` or an already loaded `ModelPackage` (default: the
    settings' model). A path or a reference keeps torch out of this process: the driver reads the
    package's metadata only and every scoring actor loads the weights from the file itself.
    `group` with `enrolled` [n, embedding_dim]: verified bona fide references of that group
    (e.g. a known phone line) added to the model's reference bank for this job.
    `replay` with `resume`: first pass the rows of the parts already in `dest` to
    `on_rows` too, for an idempotent sink (the feedback database) that may have
    missed them: a part is written before its rows reach `on_rows`.
    Raises FileExistsError when `dest` already holds parts and neither `resume`
    nor `overwrite` is set.
    """
    default_progress = progress is None
    progress = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    s3 = settings.storage_options
    batch_size = int(batch_size or settings.batch_size)
    package = _model_for_job(model, settings)
    version = package.version
    if group is not None and enrolled is not None and len(enrolled):
        if isinstance(package, PackageRef):
            package = package.with_enrolled(group, enrolled)
        else:
            package.enrolled[group] = np.asarray(enrolled, dtype=np.float32)

    engine = engine or settings.engine
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if engine == "onnx" and group is not None:
        raise ConfigError("--engine onnx cannot compare against enrolled groups (--group): use float or int8")
    executor = resolve_executor(
        "ray" if fused is False else executor or settings.executor, settings,
        num_actors if num_actors is not None else settings.num_actors,
    )
    fs, dest_path = filesystem(dest, s3)
    check_writable(fs, dest_path, s3)  # a missing bucket or read-only DEST fails now, not after scoring
    existing = list_parts(fs, dest_path)
    if existing and not (resume or overwrite):
        raise OutputExists(f"{dest} already holds {len(existing)} part(s): use --resume to continue or --overwrite")
    if existing and overwrite and not resume:
        for part in existing:
            fs.delete_file(part)
        existing = []
    retried = 0
    if resume and existing:  # transient error rows (unreadable) are read again, not kept as final
        existing, retried = drop_transient_errors(fs, existing, version, s3)
    done = load_done(fs, existing, version) if resume else DoneIndex(version)
    if job_id is None and resume and done.job_ids:
        job_id = done.job_ids.most_common(1)[0][0]  # a resumed job keeps its id
    job_id = job_id or new_job_id()
    stats = JobStats(job_id=job_id, model_version=version, source=source, dest=dest, top_n=top_n,
                     retried=retried)

    # Listing on the driver: one small dict per object to score (no bytes). With configured
    # source roots (always so for dashboard launches) objects outside them become error rows.
    items: list[dict[str, Any]] = []
    for obj in iter_objects(source, s3, parse_roots(settings.source_roots) or None, stats.manifest_skipped):
        if limit is not None and len(items) >= limit:
            break
        stats.listed += 1
        if resume and done.is_done(obj):
            stats.skipped += 1
            continue
        items.append(
            {"idx": len(items), "uri": obj.uri, "size_bytes": obj.size_bytes, "fingerprint": obj.fingerprint,
             "error": obj.error, "mtime_ns": obj.mtime_ns}
        )
    progress(
        f"[score] job {job_id}: {len(items)} to score ({stats.skipped} already in {dest}), model {version}, "
        f"engine {engine}, executor {executor}"
    )
    if resume and replay and on_rows is not None and existing:
        # Parts are written before their rows reach `on_rows` (the database): after a database
        # outage or a kill in between, those rows were never recorded. `on_rows` is idempotent,
        # so replaying every existing part makes the database match the Parquet output again.
        for part in existing:
            replayed = pq.read_table(part, filesystem=fs).to_pylist()
            if replayed:
                on_rows(replayed)
    if items:
        bar = progress_bar if progress_bar is not None else (default_progress and sys.stderr.isatty())
        reporter = Progress(stats, len(items), progress, progress_every_s, bar=bar)
        if executor == "local":
            rows_iter = _score_items_here(items, package, settings, s3, batch_size, group, engine)
        else:
            rows_iter = _iter_scored(
                _score_items(items, package, settings, s3, batch_size, num_actors, gpus_per_actor, group, fused,
                             engine)
            )
        try:
            _write_rows(rows_iter, package, job_id, fs, s3, dest_path, part_size, stats, on_rows, reporter,
                        commit_every_s)
        finally:
            # On an error (e.g. the database went away in `on_rows`) stop the Ray Data pipeline
            # now: left to interpreter shutdown, its executor thread deadlocked and the job hung.
            rows_iter.close()
        reporter.close()
    return {**stats.as_dict(), "executor": executor}


def _model_for_job(model: "str | Path | PackageRef | ModelPackage | None", settings: ScoringSettings
                   ) -> "PackageRef | ModelPackage":
    """What the driver holds: a loaded package as given, else a reference (metadata only, no torch)."""
    if model is None or isinstance(model, (str, Path)):
        return PackageRef.open(model or settings.model_path, settings.whisper_model_bin or None)
    return model


def _decode_kwargs(package: "PackageRef | ModelPackage", settings: ScoringSettings, s3: StorageOptions,
                   windows_per_piece: int) -> dict[str, Any]:
    """What each read-decode-cut call needs (`jobs.score.stages.decode_batch`)."""
    audio = package.config.audio
    return {
        "audio": {f: getattr(audio, f) for f in audio.__dataclass_fields__},
        "s3": s3,
        "max_file_bytes": settings.max_file_bytes,
        "max_duration_s": settings.max_duration_s,
        "windows_per_piece": windows_per_piece,
        "decode_timeout_s": settings.decode_timeout_s,
    }


def _scorer_kwargs(package: "PackageRef | ModelPackage", plan: dict[str, Any], settings: ScoringSettings,
                   group: str | None, engine: str) -> dict[str, Any]:
    """A scorer's constructor arguments (`PieceScorer`; `ClipScorer` adds `decode`) for a plan."""
    return {
        "package": package,
        "device": plan["device"],
        "torch_threads": int(plan["torch_threads"]),
        "batch_size": int(plan["batch_size"]),
        "group": group,
        "engine": engine,
        # Exported once here (cached per model version), loaded by every scorer.
        "onnx_path": _onnx_path(package, settings) if engine == "onnx" else None,
    }


def _score_items_here(
    items: list[dict[str, Any]],
    package: "PackageRef | ModelPackage",
    settings: ScoringSettings,
    s3: StorageOptions,
    batch_size: int,
    group: str | None,
    engine: str,
):  # type: ignore[no-untyped-def] # -> generator of pyarrow tables (SCORED_SCHEMA)
    """The local executor: the calls one CPU actor would run, on this process's threads.

    Sized by the same rule as Ray's CPU plan for this machine (`scoring_actor_pool`):
    threads, torch threads per call, windows per forward pass, objects per call.
    """
    from cluster.resources import scoring_actor_pool

    plan = scoring_actor_pool({"CPU": float(local_cpus())}, None, 0.0, batch_size, fused=True)
    threads = int(plan["calls_per_actor"]) * int(plan["max_size"])
    per_call = max(1, min(ITEMS_PER_CALL, math.ceil(len(items) / threads)))
    scorer_kwargs = {
        **_scorer_kwargs(package, plan, settings, group, engine),
        "decode": _decode_kwargs(package, settings, s3, int(plan["batch_size"])),
    }
    blocks = [items[i : i + per_call] for i in range(0, len(items), per_call)]
    return iter_local(blocks, scorer_kwargs, threads)


def _score_items(
    items: list[dict[str, Any]],
    package: "PackageRef | ModelPackage",
    settings: ScoringSettings,
    s3: StorageOptions,
    batch_size: int,
    num_actors: int | None,
    gpus_per_actor: float | None,
    group: str | None = None,
    fused: bool | None = None,
    engine: str = "float",
):  # type: ignore[no-untyped-def] # -> ray.data.Dataset of SCORED_SCHEMA rows
    """Build the Ray Data pipeline (lazy: nothing runs until it is iterated)."""
    import ray
    import ray.data

    from cluster.local import init_ray
    from cluster.resources import scoring_actor_pool

    init_ray(settings=settings)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # our own progress lines instead
    context.verbose_stats_logs = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    # "Progress bars disabled...": we disabled them on purpose, for our own progress (above).
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
    plan = scoring_actor_pool(
        ray.cluster_resources(),
        num_actors if num_actors is not None else settings.num_actors,
        gpus_per_actor if gpus_per_actor is not None else settings.gpus_per_actor,
        batch_size,
        fused=fused,
    )
    if isinstance(package, PackageRef) and not _single_node(ray):
        # Another machine's workers cannot read this machine's file: ship the weights with the actors.
        package = package.load()
    decode_kwargs = _decode_kwargs(package, settings, s3, int(plan["batch_size"]))
    actor_kwargs = _scorer_kwargs(package, plan, settings, group, engine)
    # Ray Data's map actors restart after a crash by default, and then log an ERROR line
    # ("constructor arguments in the object store and max_restarts > 0") at every start
    # whatever the arguments (ray#57733). An embedded Ray is one machine: a crashed actor
    # there is a bug or an OOM, not a lost node, so restarts buy nothing and the line goes.
    restarts = {"max_restarts": 0} if _embedded(ray) else {}
    if plan["fused"]:
        # CPUs only: each actor reads, decodes and scores its batch (see `ClipScorer`).
        # A small job is spread over all actors (fewer items per call) rather than
        # leaving some idle; a pool larger than the number of blocks only costs start-up.
        # Each actor runs `calls` calls at once (threads, one torch thread each).
        calls = int(plan["calls_per_actor"])
        per_call = max(1, min(ITEMS_PER_CALL, math.ceil(len(items) / (int(plan["max_size"]) * calls))))
        blocks = max(1, math.ceil(len(items) / per_call))
        size = min(int(plan["max_size"]), math.ceil(blocks / calls))
        dataset = ray.data.from_items(items, override_num_blocks=blocks)
        threads = {"max_concurrent_calls_per_actor": calls, "enable_true_multi_threading": True} if calls > 1 else {}
        with warnings.catch_warnings():  # max_restarts has no named parameter yet (RayDeprecationWarning)
            warnings.simplefilter("ignore")
            return dataset.map_batches(
                ClipScorer,
                batch_size=per_call,
                batch_format="pyarrow",
                compute=ray.data.ActorPoolStrategy(min_size=min(int(plan["min_size"]), size), max_size=size,
                                                   **threads),
                num_cpus=plan["num_cpus"],
                fn_constructor_kwargs={**actor_kwargs, "decode": decode_kwargs},
                **restarts,
            )
    dataset = ray.data.from_items(items, override_num_blocks=max(1, math.ceil(len(items) / ITEMS_PER_BLOCK)))
    dataset = dataset.map_batches(
        decode_batch,
        batch_size=1,  # one object per call: a decoded clip is the unit of memory
        batch_format="pyarrow",
        num_cpus=1,
        # A memory reservation (a decoded clip plus decoder buffers) also keeps Ray Data
        # from fusing this stage into the actors: on GPUs, decoding must overlap inference.
        memory=DECODE_TASK_MEMORY,
        fn_kwargs=decode_kwargs,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dataset.map_batches(
            PieceScorer,
            batch_size=PIECES_PER_CALL,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(min_size=plan["min_size"], max_size=plan["max_size"]),
            num_cpus=plan["num_cpus"],
            num_gpus=plan["num_gpus"],
            fn_constructor_kwargs=actor_kwargs,
            **restarts,
        )


def _onnx_path(package: "PackageRef | ModelPackage", settings: ScoringSettings) -> str:
    """The model's ONNX export, made once here (cached per model version) and loaded by every actor."""
    from siamese.engines import onnx_artefact

    loaded = package.load() if isinstance(package, PackageRef) else package
    return str(onnx_artefact(loaded, Path(settings.data_dir) / "cache" / "engines"))


def _single_node(ray_module) -> bool:  # type: ignore[no-untyped-def]
    """True when every alive node of the cluster is this driver's: its workers can read its files."""
    if _embedded(ray_module):
        return True
    here = ray_module.get_runtime_context().get_node_id()
    return all(node["NodeID"] == here for node in ray_module.nodes() if node.get("Alive"))


def _embedded(ray_module) -> bool:  # type: ignore[no-untyped-def]
    from cluster.local import _is_embedded

    return _is_embedded(ray_module)


def _iter_scored(dataset):  # type: ignore[no-untyped-def] # -> iterator of pyarrow tables
    """Run the pipeline; yields scored piece batches as they finish."""
    yield from dataset.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=1)


def _write_rows(
    batches,  # type: ignore[no-untyped-def] # iterator of pyarrow tables
    package: "PackageRef | ModelPackage",
    job_id: str,
    fs,  # type: ignore[no-untyped-def]
    s3: StorageOptions,
    dest_path: str,
    part_size: int,
    stats: JobStats,
    on_rows: OnRows | None,
    progress: Progress,
    commit_every_s: float,
) -> None:
    """Regroup pieces into clips, aggregate, count them, and write parts.

    A part is written when it holds `part_size` rows or when `commit_every_s` have
    passed since the last one, whichever comes first: a killed job keeps all but
    its last minute or so of work, whatever its size (a part is the resume unit).
    """
    # Aggregation needs only the calibration and the operating point: no network in the driver.
    detector = VerdictRule.of(package)
    rate = package.config.audio.sample_rate
    run = uuid.uuid4().hex[:8]  # parts of different runs of one job never collide
    pending: dict[int, _Clip] = {}
    buffer: list[dict[str, Any]] = []
    last_commit = time.monotonic()

    def flush() -> None:
        nonlocal buffer, last_commit
        last_commit = time.monotonic()
        if not buffer:
            return
        path = f"{dest_path}/part-{job_id}-{run}-{stats.parts_written:05d}.parquet"
        write_part(to_table(buffer), fs, path, s3)
        stats.parts_written += 1
        if on_rows is not None:
            on_rows(buffer)
        buffer = []

    for table in batches:
        for piece in table.to_pylist():
            clip = pending.setdefault(piece["idx"], _Clip(meta=piece, n_pieces=piece["n_pieces"]))
            clip.pieces[piece["piece"]] = (piece["starts"], piece["ends"], piece["scores"])
            if len(clip.pieces) < clip.n_pieces:
                continue
            del pending[piece["idx"]]
            row = _clip_row(clip, detector, rate, job_id)
            buffer.append(row)
            stats.add([row])  # counted when scored (progress), not when its part is written
            stats.changed += bool(piece.get("changed"))
            if len(buffer) >= part_size:
                flush()
        if buffer and time.monotonic() - last_commit >= commit_every_s:
            flush()
        progress.update()
    flush()
    if pending:  # cannot happen unless a stage drops rows; never lose an input silently
        raise RuntimeError(f"{len(pending)} clip(s) lost pieces in the pipeline")


def _clip_row(clip: _Clip, detector: VerdictRule, rate: int, job_id: str) -> dict[str, Any]:
    """One output row from a complete clip (or its error)."""
    meta = clip.meta
    row: dict[str, Any] = {c: None for c in COLUMNS}
    row.update(
        uri=meta["uri"],
        size_bytes=meta["size_bytes"],
        fingerprint=meta["fingerprint"],
        duration_s=meta["duration_s"],
        sample_rate=meta["sample_rate"],
        channels=meta["channels"],
        model_version=detector.version,
        error=meta["error"],
        job_id=job_id,
        scored_at=now_utc(),
        segments=[],
    )
    if meta["error"]:
        return row
    starts = np.concatenate([np.asarray(clip.pieces[i][0], np.float64) for i in range(clip.n_pieces)]) / rate
    ends = np.concatenate([np.asarray(clip.pieces[i][1], np.float64) for i in range(clip.n_pieces)]) / rate
    scores = np.concatenate([np.asarray(clip.pieces[i][2], np.float64) for i in range(clip.n_pieces)])
    result = detector.aggregate(meta["uri"], scores, starts, ends).to_dict()
    row.update({k: result[k] for k in ("score", "prob_bonafide", "label", "confidence", "flagged", "segments")})
    return row
