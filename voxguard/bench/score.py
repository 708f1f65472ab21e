"""Scoring benchmark: the Ray Data pipeline vs a naive loop vs a decode-only floor.

All three read the same generated files in one run. Peak memory is the peak of
the summed RSS of this process and all its descendants (the embedded Ray's
raylet, object store and workers included), sampled every 0.1 s with psutil;
shared pages (the object store) are counted once per process mapping them, so
it is an upper bound.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile

if TYPE_CHECKING:
    from voxguard.settings import Settings

# (suffix, sample rate, channels, soundfile format): a mix like a real archive's.
FORMATS = (("wav", 16000, 1, "WAV"), ("flac", 44100, 2, "FLAC"), ("wav", 48000, 1, "WAV"), ("flac", 22050, 1, "FLAC"))


def generate_files(folder: Path, n: int, min_s: float = 3.0, max_s: float = 12.0, seed: int = 0) -> float:
    """Write `n` speech-band noise clips of mixed formats into `folder`; returns total seconds."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    total = 0.0
    for i in range(n):
        suffix, rate, channels, fmt = FORMATS[i % len(FORMATS)]
        seconds = float(rng.uniform(min_s, max_s))
        t = np.arange(int(seconds * rate)) / rate
        tone = 0.1 * np.sin(2 * np.pi * rng.uniform(100, 300) * t * (1 + 0.1 * np.sin(2 * np.pi * 3 * t)))
        mono = (tone + 0.05 * rng.normal(size=len(t))).astype(np.float32)
        samples = np.repeat(mono[:, None], channels, axis=1) if channels > 1 else mono
        soundfile.write(str(folder / f"clip{i:06d}.{suffix}"), samples, rate, format=fmt)
        total += seconds
    return total


PSS_EVERY_S = 2.0  # see PeakRSS._sample


class PeakRSS:
    """Context manager sampling the memory of this process (and, with `tree`, all its descendants).

    `.peak`: peak of the summed RSS, an upper bound (pages shared between processes,
    e.g. torch's libraries mapped by every worker and the object store, count once per
    process). `.peak_pss`: peak of the summed PSS (each shared page split between the
    processes mapping it), i.e. the physical memory the process tree really holds.
    """

    def __init__(self, interval_s: float = 0.25, tree: bool = True, pid: int | None = None) -> None:
        self.interval_s = interval_s
        self.tree = tree
        self.pid = pid  # the process whose tree is measured (default: this one)
        self.peak = 0
        self.peak_pss = 0
        # At the sample with the peak summed RSS: kind -> [processes, RSS, PSS] (see `process_kind`).
        self.at_peak: dict[str, list[int]] = {}
        self._last_pss = float("-inf")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> tuple[int, int, dict[str, list[int]]]:
        import psutil

        try:
            root = psutil.Process(self.pid or os.getpid())
        except psutil.NoSuchProcess:
            return 0, 0, {}
        procs = [root, *(root.children(recursive=True) if self.tree else [])]
        rss_of: dict[int, int] = {}
        for proc in procs:
            try:
                rss_of[proc.pid] = proc.memory_info().rss  # /proc/PID/statm: cheap
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        rss = sum(rss_of.values())
        now = time.monotonic()
        # PSS needs smaps_rollup, which costs ~4 ms of CPU per Ray process (~45 ms per sample of a
        # pipeline's tree: at 4 samples/s a tenth of a 2-core machine, taken from the very job
        # being measured). So PSS and the per-kind breakdown are read at a new RSS peak and every
        # PSS_EVERY_S, not at every sample.
        if rss <= self.peak and now - self._last_pss < PSS_EVERY_S:
            return rss, 0, {}
        self._last_pss = now
        pss = 0
        kinds: dict[str, list[int]] = {}
        for proc in procs:
            if proc.pid not in rss_of:
                continue
            try:
                info = proc.memory_full_info()  # reads smaps_rollup: PSS as well as RSS
                kind = "driver" if proc.pid == root.pid else process_kind(" ".join(proc.cmdline()))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            pss += getattr(info, "pss", info.rss)
            entry = kinds.setdefault(kind, [0, 0, 0])
            entry[0] += 1
            entry[1] += info.rss
            entry[2] += getattr(info, "pss", info.rss)
        return rss, pss, kinds

    def _update(self) -> None:
        rss, pss, kinds = self._sample()
        if rss > self.peak and kinds:
            self.at_peak = kinds
        self.peak = max(self.peak, rss)
        self.peak_pss = max(self.peak_pss, pss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._update()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "PeakRSS":
        self._update()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._update()


# Ray's own processes, by the command line Ray gives them (process titles).
_RAY_SYSTEM = ("gcs_server", "raylet", "dashboard", "monitor.py", "log_monitor", "runtime_env", "DashboardAgent",
               "RuntimeEnvAgent")
_RAY_DATA_HELPERS = ("_StatsActor", "_AutoscalingCoordinatorActor", "ActorLocationTracker")


def process_kind(cmdline: str) -> str:
    """What a process of the tree is, for the memory breakdown: scoring actor, Ray Data helper, Ray, idle worker."""
    if "Scorer" in cmdline or "MapWorker" in cmdline or "decode_batch" in cmdline:
        return "scoring actors"
    if any(name in cmdline for name in _RAY_DATA_HELPERS):
        return "Ray Data helper actors"
    if any(name in cmdline for name in _RAY_SYSTEM):
        return "Ray system processes"
    if "default_worker" in cmdline or "ray::IDLE" in cmdline:
        return "idle Ray workers"
    return "other"


def eta_check(lines: list[tuple[float, str]], end: float) -> dict[str, float] | None:
    """The ETA printed by the first progress line at or past half the clips (not the last line), against the time the job really took.

    `lines`: (time.monotonic(), progress line) as the job emitted them; `end`: when it ended,
    unless the last line says every clip is scored: then that line's time (the ETA is about
    scoring, not about Ray's shutdown after it).
    """
    import re

    last = re.match(r"\[score\] (\d+)/(\d+) clips", lines[-1][1]) if lines else None
    if last and last.group(1) == last.group(2):
        end = lines[-1][0]

    for at, line in lines:
        m = re.match(r"\[score\] (\d+)/(\d+) clips.*ETA (\d+(?:\.\d+)?) (s|min|h)\b", line)
        if not m or int(m.group(1)) * 2 < int(m.group(2)) or int(m.group(1)) >= int(m.group(2)):
            continue
        eta = float(m.group(3)) * {"s": 1, "min": 60, "h": 3600}[m.group(4)]
        actual = end - at
        return {"done": int(m.group(1)), "total": int(m.group(2)), "eta_s": eta, "actual_s": actual,
                "error_pct": 100 * (eta - actual) / actual if actual > 0 else 0.0}
    return None


@dataclass
class Measure:
    """One row of the benchmark table."""

    name: str
    files: int
    audio_s: float
    wall_s: float
    peak_rss: int
    peak_pss: int = 0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before/after
    parts: dict[str, float] | None = None  # busy seconds by part (the naive loop's breakdown)
    by_kind: dict[str, list[int]] | None = None  # at the memory peak: kind -> [processes, RSS, PSS]
    eta: dict[str, float] | None = None  # `eta_check` of the job's own progress lines
    steal_pct: float | None = None  # machine-wide CPU time the hypervisor took during the row (`cpu_steal`)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "files": self.files,
            "audio_hours": self.audio_s / 3600,
            "wall_s": self.wall_s,
            "x_real_time": self.audio_s / self.wall_s,
            "clips_per_s": self.files / self.wall_s,
            "peak_rss_mib": self.peak_rss / 2**20,
            "peak_pss_mib": self.peak_pss / 2**20,
            "load_1m": list(self.load),
            "parts_s": self.parts or {},
            "memory_by_kind_mib": {k: [v[0], v[1] / 2**20, v[2] / 2**20] for k, v in (self.by_kind or {}).items()},
            "eta_check": self.eta,
            "steal_pct": self.steal_pct,
        }


def cpu_times() -> tuple[int, int] | None:
    """(steal, total) CPU ticks of the whole machine so far (Linux /proc/stat), else None."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(v) for v in handle.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return fields[7], sum(fields)  # user nice system idle iowait irq softirq steal


def steal_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """Percent of the machine's CPU time the hypervisor gave to other guests between two `cpu_times`.

    On a shared VM this swings from 0 to over 50 % within minutes and every wall time moves with
    it; rows measured under very different steal do not compare.
    """
    if before is None or after is None or after[1] <= before[1]:
        return None
    return 100.0 * (after[0] - before[0]) / (after[1] - before[1])


def _timed(name: str, files: int, audio_s: float, fn: Callable[[], Any], tree: bool = True) -> Measure:
    """Run `fn` once; memory of this process, plus its children (Ray) when `tree`."""
    load = os.getloadavg()[0]
    ticks = cpu_times()
    with PeakRSS(tree=tree) as rss:
        start = time.perf_counter()
        parts = fn()
        wall = time.perf_counter() - start
    job = isinstance(parts, dict) and "job_id" in parts
    return Measure(name, files, audio_s, wall, rss.peak, rss.peak_pss, (load, os.getloadavg()[0]),
                   parts if isinstance(parts, dict) and not job else None,  # not a job summary
                   rss.at_peak if tree else None, parts.get("eta_check") if job else None,
                   steal_share(ticks, cpu_times()))


def _cli_score(n: int, audio_s: float, folder: Path, dest: Path, model: str | Path, batch_size: int | None,
               num_actors: int | None) -> Measure:
    """`voxguard score` as a user runs it, in its own process: the memory of that process tree
    (its embedded Ray, Ray Data's helper actors and the scoring actors) while it runs, and
    its ETA check. The wall time includes Ray's start-up."""
    import re
    import subprocess
    import sys

    command = [sys.executable, "-m", "voxguard", "score", str(folder), "--out", str(dest), "--overwrite",
               "--no-feedback", "--model", str(model)]
    command += ["--batch-size", str(batch_size)] if batch_size else []
    command += ["--num-actors", str(num_actors)] if num_actors else []
    load = os.getloadavg()[0]
    lines: list[tuple[float, str]] = []
    ticks = cpu_times()
    start = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        with PeakRSS(pid=proc.pid) as rss:
            for line in proc.stderr or ():
                if re.match(r"\[score\] \d+/\d+ clips", line):
                    lines.append((time.monotonic(), line.strip()))
            proc.wait()
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}")
    return Measure(f"voxguard score (own process), {n} clips", n, audio_s, wall, rss.peak, rss.peak_pss,
                   (load, os.getloadavg()[0]), None, rss.at_peak, eta_check(lines, time.monotonic()),
                   steal_share(ticks, cpu_times()))


def _best(measures: list[Measure]) -> Measure:
    """Of several rounds, the fastest: the one the other sessions' load disturbed least."""
    return min(measures, key=lambda m: m.wall_s)


def run_bench(
    n_files: int,
    model: str | Path,
    workdir: Path | None = None,
    scales: tuple[int, ...] = (),
    batch_size: int | None = None,
    num_actors: int | None = None,
    log: Callable[[str], None] = print,
    rounds: int = 1,
    two_stage: bool = True,
    engines: tuple[str, ...] = (),
    core_rows: bool = False,
    *,
    settings: Settings,
) -> dict[str, Any]:
    """Measure decode-only, naive loop and pipeline on `n_files` clips; optionally memory at `scales`.

    `settings`: the command's, for the pipeline and its Ray (the same as `voxguard score` would use).

    With `rounds` > 1 the runs are interleaved (decode, naive, pipeline, decode, ...) and
    each keeps its fastest round: on a shared machine, load from other processes comes
    and goes, and interleaving exposes every variant to it alike. `two_stage` adds the
    pipeline with separate decode tasks (the layout used on GPUs) for comparison.
    """
    import torch

    from jobs.score.executors import resolve_executor
    from jobs.score.pipeline import run_scoring
    from siamese.audio import decode_audio
    from siamese.detector import Detector

    work = Path(workdir or tempfile.mkdtemp(prefix="voxguard-bench-"))
    src = work / f"clips-{n_files}"
    log(f"[bench] generating {n_files} files in {src}")
    audio_s = generate_files(src, n_files) if n_files else 0.0
    paths = sorted(str(p) for p in src.iterdir()) if n_files else []
    # The naive loop runs where the pipeline's actors run (the GPU when there is one), with the
    # engine `voxguard score` would use there (the settings', "auto" resolved), so that the two
    # compare like for like; a float loop is measured too, as the reference users know.
    from siamese.package import ModelPackage

    package = ModelPackage.load(model)
    detector = Detector(package, engine=settings.engine)
    float_detector = detector if detector.engine == "float" else Detector(package, engine="float")
    audio_config = detector.audio_config
    torch.set_num_threads(os.cpu_count() or 1)

    def decode_only() -> None:
        for path in paths:
            audio = decode_audio(Path(path).read_bytes(), audio_config)
            detector.windows(audio.waveform)

    def naive_one_thread() -> dict[str, float]:
        # The same loop with one torch thread: separates thread over-subscription (two
        # OpenMP threads on two busy cores wait at every barrier) from the loop itself.
        torch.set_num_threads(1)
        try:
            return naive()
        finally:
            torch.set_num_threads(os.cpu_count() or 1)

    def naive(detector: Detector = detector) -> dict[str, float]:
        # Detector.score's own steps, timed apart: where a plain loop's time goes.
        spent = {"read+decode+resample": 0.0, "windows": 0.0, "inference": 0.0, "aggregate": 0.0}
        for path in paths:
            t0 = time.perf_counter()
            audio = detector.decode(path)
            t1 = time.perf_counter()
            windows = detector.windows(audio.waveform)
            t2 = time.perf_counter()
            scores = detector.score_windows(windows.frames)
            t3 = time.perf_counter()
            detector.aggregate(path, scores, windows.starts_s, windows.ends_s, audio)
            t4 = time.perf_counter()
            for key, dt in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                spent[key] += dt
        return spent

    from cluster.local import init_ray

    ray_start = time.perf_counter()
    init_ray(settings=settings)
    ray_start_s = time.perf_counter() - ray_start

    def pipeline(folder: Path, dest: Path, fused: bool | None = None, engine: str | None = None,
                 actors: int | None = None, executor: str | None = None) -> Callable[[], Any]:
        def run() -> dict[str, Any]:
            # The job's own progress lines (every 2 s) give the ETA check: what it predicted
            # halfway against what it then took.
            lines: list[tuple[float, str]] = []
            summary = run_scoring(
                str(folder), str(dest), model, settings=settings, overwrite=True, batch_size=batch_size,
                num_actors=actors if actors is not None else num_actors,
                progress=lambda line: lines.append((time.monotonic(), line)), progress_every_s=2.0,
                progress_bar=False, fused=fused, engine=engine, executor=executor,
            )
            return {**summary, "eta_check": eta_check(lines, time.monotonic())}

        return run

    # One warm-up run on a few files so first-use costs (imports, page cache) are not billed
    # to one side only. Each run still starts its own actors (model load included).
    warm = work / "warm"
    generate_files(warm, 4, seed=99)
    pipeline(warm, work / "out-warm")()
    # The like-for-like trio (decode floor, naive loop, pipeline: both with the default engine);
    # `core_rows` measures only these, the others are references and alternative layouts.
    # The pipeline row is `voxguard score` as configured (its executor resolved for this machine);
    # where that is the local executor, the Ray Data pipeline is a core row too.
    executor = resolve_executor(settings.executor, settings, num_actors or settings.num_actors)
    variants: list[tuple[str, Callable[[], Any]]] = [
        ("decode only (1 process)", decode_only),
        (f"naive loop (Detector.score per file, engine {detector.engine})", naive),
        (f"pipeline (voxguard score, engine {settings.engine}: {detector.engine} here, executor "
         f"{settings.executor}: {executor} here)", pipeline(src, work / "out")),
    ]
    if executor != "ray":
        variants.append(("pipeline, executor ray (Ray Data)", pipeline(src, work / "out-ray", executor="ray")))
    if not core_rows:
        if float_detector is not detector:
            variants.append(("naive loop, engine float", lambda: naive(float_detector)))
            variants.append(("pipeline, engine float", pipeline(src, work / "out-float", engine="float")))
        variants.append(("naive loop, 1 torch thread", naive_one_thread))
        cores = os.cpu_count() or 1
        if num_actors is None and cores > 1:
            # The previous CPU layout: one single-call actor process per core.
            variants.append(("pipeline, one single-call actor per core", pipeline(src, work / "out-1call", actors=cores)))
        if two_stage:
            variants.append(("pipeline, two stages (decode tasks + actors)", pipeline(src, work / "out-2", fused=False)))
        for engine in engines:
            variants.append((f"pipeline, engine {engine}", pipeline(src, work / f"out-{engine}", engine=engine)))
    measured: dict[str, list[Measure]] = {name: [] for name, _ in variants}
    if n_files:
        for round_no in range(max(1, rounds)):
            for name, fn in variants:
                log(f"[bench] round {round_no + 1}: {name}")
                # Decode and naive rows run in this process alone: the idle Ray is not theirs.
                measured[name].append(_timed(name, n_files, audio_s, fn, tree=name.startswith("pipeline")))
                log(f"[bench] {measured[name][-1].as_dict()}")
    rows = [_best(m) for m in measured.values() if m]

    scale_rows = []
    for n in scales:
        folder = work / f"scale-{n}"
        log(f"[bench] memory at {n} clips: generating")
        seconds = generate_files(folder, n, 2.0, 4.0, seed=n)
        log(f"[bench] memory at {n} clips: scoring")
        scale_rows.append(_cli_score(n, seconds, folder, work / f"out-{n}", model, batch_size, num_actors))
        log(f"[bench] {scale_rows[-1].as_dict()}")
    return {
        "rows": [r.as_dict() for r in rows],
        "scales": [r.as_dict() for r in scale_rows],
        "ray_start_s": ray_start_s,
        "rounds": max(1, rounds),
        "cpus": os.cpu_count(),
        "model_version": detector.version,
        "workdir": str(work),
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def format_table(result: dict[str, Any]) -> str:
    """Markdown table with ratios to the naive loop (and the decode-only floor), then the breakdown."""
    rows = result["rows"]
    naive = next((r for r in rows if r["name"].startswith("naive loop (")), None)
    floor = next((r for r in rows if r["name"].startswith("decode")), None)
    out = [
        "| run | files | audio h | wall s | x real-time | clips/s | peak RSS MiB | peak PSS MiB | speed vs naive | "
        "wall vs decode floor | load 1m | CPU steal % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows + result["scales"]:
        # Ratios per clip, so rows of other archive sizes still compare.
        vs_naive = f"{naive['wall_s'] / naive['files'] / (r['wall_s'] / r['files']):.2f}x" if naive else "-"
        vs_floor = f"{r['wall_s'] / r['files'] / (floor['wall_s'] / floor['files']):.2f}x" if floor else "-"
        load = r.get("load_1m") or [0, 0]
        out.append(
            f"| {r['name']} | {r['files']} | {r['audio_hours']:.3f} | {r['wall_s']:.1f} | {r['x_real_time']:.1f} | "
            f"{r['clips_per_s']:.2f} | {r['peak_rss_mib']:.0f} | {r.get('peak_pss_mib', 0):.0f} | {vs_naive} | {vs_floor} | "
            f"{load[0]:.1f}-{load[1]:.1f} | {_pct(r.get('steal_pct'))} |"
        )
    out.append("")
    rounds = result.get("rounds", 1)
    out.append(
        f"{result['cpus']} CPUs; model {result['model_version']}; Ray start-up {result['ray_start_s']:.1f} s "
        "(not in the pipeline's wall time; a warm-up run precedes it, actor start-up is included). "
        + (f"Best of {rounds} interleaved rounds per row. " if rounds > 1 else "")
        + "Load: the 1-minute load average before-after each row (other processes on the machine). "
        "CPU steal: the share of the machine's CPU time its hypervisor gave to other guests during the row. "
        "Memory: decode and naive rows, this process; pipeline rows, the whole tree (driver, Ray, actors); "
        "'voxguard score (own process)' rows, that command's whole tree (its wall time includes its start-up: "
        "torch and the model; Ray's too with the Ray executor); with Ray up for the Ray rows, the local "
        "executor's in-process rows also count that idle Ray's memory; "
        "RSS sums count shared pages once per process, PSS splits them."
    )
    if naive and naive.get("parts_s"):
        total = sum(naive["parts_s"].values()) or 1.0
        parts = ", ".join(f"{k} {v:.1f} s ({100 * v / total:.0f}%)" for k, v in naive["parts_s"].items())
        out.append(f"Naive loop, where the time goes: {parts}.")
    for r in rows + result["scales"]:
        kinds = r.get("memory_by_kind_mib") or {}
        if kinds and r["name"].startswith(("pipeline", "voxguard score")):
            parts = ", ".join(f"{k} {n}x {rss:.0f} MiB RSS / {pss:.0f} PSS"
                              for k, (n, rss, pss) in sorted(kinds.items(), key=lambda kv: -kv[1][1]))
            out.append(f"At the memory peak of '{r['name']}': {parts}.")
        if r.get("eta_check"):
            e = r["eta_check"]
            out.append(f"ETA check of '{r['name']}': at {e['done']}/{e['total']} clips the job said {e['eta_s']:.0f} s "
                       f"left; it took {e['actual_s']:.1f} s ({e['error_pct']:+.0f}%).")
    if len(result["scales"]) >= 2:
        a, b = result["scales"][0], result["scales"][-1]
        out.append(
            f"Peak memory {b['files']} vs {a['files']} clips: {b['peak_rss_mib']:.0f} vs {a['peak_rss_mib']:.0f} MiB "
            f"({(b['peak_rss_mib'] / a['peak_rss_mib'] - 1) * 100:+.0f}%)."
        )
    return "\n".join(out)
