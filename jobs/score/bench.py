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
from typing import Any

import numpy as np
import soundfile

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


class PeakRSS:
    """Context manager sampling the summed RSS of this process tree; `.peak` in bytes."""

    def __init__(self, interval_s: float = 0.1) -> None:
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        import psutil

        root = psutil.Process(os.getpid())
        total = 0
        for proc in [root, *root.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "PeakRSS":
        self.peak = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


@dataclass
class Measure:
    """One row of the benchmark table."""

    name: str
    files: int
    audio_s: float
    wall_s: float
    peak_rss: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "files": self.files,
            "audio_hours": self.audio_s / 3600,
            "wall_s": self.wall_s,
            "x_real_time": self.audio_s / self.wall_s,
            "clips_per_s": self.files / self.wall_s,
            "peak_rss_mib": self.peak_rss / 2**20,
        }


def _timed(name: str, files: int, audio_s: float, fn: Callable[[], Any]) -> Measure:
    with PeakRSS() as rss:
        start = time.perf_counter()
        fn()
        wall = time.perf_counter() - start
    return Measure(name, files, audio_s, wall, rss.peak)


def run_bench(
    n_files: int,
    model: str | Path,
    workdir: Path | None = None,
    scales: tuple[int, ...] = (),
    batch_size: int | None = None,
    num_actors: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Measure decode-only, naive loop and pipeline on `n_files` clips; optionally memory at `scales`."""
    import torch

    from jobs.score.pipeline import run_scoring
    from siamese.audio import decode_audio
    from siamese.detector import Detector

    work = Path(workdir or tempfile.mkdtemp(prefix="voxguard-bench-"))
    src = work / f"clips-{n_files}"
    log(f"[bench] generating {n_files} files in {src}")
    audio_s = generate_files(src, n_files) if n_files else 0.0
    paths = sorted(str(p) for p in src.iterdir()) if n_files else []
    # The naive loop runs where the pipeline's actors run: the GPU when there is one.
    detector = Detector.from_package(model)
    audio_config = detector.audio_config
    torch.set_num_threads(os.cpu_count() or 1)
    decoded_s = 0.0

    def decode_only() -> None:
        nonlocal decoded_s
        for path in paths:
            audio = decode_audio(Path(path).read_bytes(), audio_config)
            detector.windows(audio.waveform)
            decoded_s += audio.duration_s

    def naive() -> None:
        for path in paths:
            result = detector.score(path)
            assert result.error is None, result.error

    rows: list[Measure] = []
    load_before = os.getloadavg()[0]
    if n_files:
        log("[bench] decode-only pass")
        rows.append(_timed("decode only (1 process)", n_files, audio_s, decode_only))
        log(f"[bench] {rows[-1].as_dict()}")
        log("[bench] naive loop")
        rows.append(_timed("naive loop (Detector.score per file)", n_files, audio_s, naive))
        log(f"[bench] {rows[-1].as_dict()}")

    from cluster.local import init_ray

    ray_start = time.perf_counter()
    init_ray()
    ray_start_s = time.perf_counter() - ray_start
    quiet = lambda _: None  # noqa: E731

    def pipeline(folder: Path, dest: Path) -> Callable[[], Any]:
        return lambda: run_scoring(
            str(folder), str(dest), model, overwrite=True, batch_size=batch_size, num_actors=num_actors, progress=quiet
        )

    # One warm-up run on a few files so actor start-up is not billed to one side only.
    warm = work / "warm"
    generate_files(warm, 4, seed=99)
    pipeline(warm, work / "out-warm")()
    if n_files:
        log("[bench] Ray Data pipeline")
        rows.append(_timed("Ray Data pipeline", n_files, audio_s, pipeline(src, work / "out")))
        log(f"[bench] {rows[-1].as_dict()}")

    scale_rows = []
    for n in scales:
        folder = work / f"scale-{n}"
        log(f"[bench] memory at {n} clips: generating")
        seconds = generate_files(folder, n, 2.0, 4.0, seed=n)
        log(f"[bench] memory at {n} clips: scoring")
        scale_rows.append(_timed(f"pipeline, {n} clips", n, seconds, pipeline(folder, work / f"out-{n}")))
        log(f"[bench] {scale_rows[-1].as_dict()}")
    return {
        "rows": [r.as_dict() for r in rows],
        "scales": [r.as_dict() for r in scale_rows],
        "ray_start_s": ray_start_s,
        # Other processes on the machine skew every number: keep the load next to them.
        "load_avg_1m": [load_before, os.getloadavg()[0]],
        "cpus": os.cpu_count(),
        "model_version": detector.version,
        "workdir": str(work),
    }


def format_table(result: dict[str, Any]) -> str:
    """Markdown table with ratios to the naive loop (and the decode-only floor)."""
    rows = result["rows"]
    naive = next((r for r in rows if r["name"].startswith("naive")), None)
    floor = next((r for r in rows if r["name"].startswith("decode")), None)
    out = [
        "| run | files | audio h | wall s | x real-time | clips/s | peak RSS MiB | speed vs naive | wall vs decode floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows + result["scales"]:
        # Ratios per clip, so rows of other archive sizes still compare.
        vs_naive = f"{naive['wall_s'] / naive['files'] / (r['wall_s'] / r['files']):.2f}x" if naive else "-"
        vs_floor = f"{r['wall_s'] / r['files'] / (floor['wall_s'] / floor['files']):.2f}x" if floor else "-"
        out.append(
            f"| {r['name']} | {r['files']} | {r['audio_hours']:.3f} | {r['wall_s']:.1f} | {r['x_real_time']:.1f} | "
            f"{r['clips_per_s']:.2f} | {r['peak_rss_mib']:.0f} | {vs_naive} | {vs_floor} |"
        )
    out.append("")
    out.append(
        f"{result['cpus']} CPUs; model {result['model_version']}; Ray start-up {result['ray_start_s']:.1f} s "
        "(not in the pipeline's wall time; a warm-up run precedes it). "
        f"Load average (1 min) at start/end: {result['load_avg_1m'][0]:.1f}/{result['load_avg_1m'][1]:.1f}."
    )
    if len(result["scales"]) >= 2:
        a, b = result["scales"][0], result["scales"][-1]
        out.append(
            f"Peak memory {b['files']} vs {a['files']} clips: {b['peak_rss_mib']:.0f} vs {a['peak_rss_mib']:.0f} MiB "
            f"({(b['peak_rss_mib'] / a['peak_rss_mib'] - 1) * 100:+.0f}%)."
        )
    return "\n".join(out)
