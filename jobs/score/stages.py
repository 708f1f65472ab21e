"""The two Ray Data stages: CPU read+decode+cut, and the inference actor.

Memory per row is bounded whatever the clip length: the decode stage cuts each
clip into *pieces* of at most `windows_per_piece` windows (a piece carries only
the samples its windows cover), so a 15-minute file travels as a few ~8 MB
rows instead of one 60 MB row. The actor scores windows of several pieces in
one forward pass (short clips have one or two windows each, so batching across
clips is what keeps the model busy) and returns per-window scores; the driver
regroups pieces into clips (`jobs.score.pipeline`).

Every input row comes out as at least one row: problems become an `error`
string ("code: message", codes from `siamese.errors`) instead of an exception.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np
import pyarrow as pa

from siamese.audio import decode_audio
from siamese.config import AudioConfig
from siamese.errors import AudioError, TooLarge
from siamese.windowing import pad_window, plan_pieces

from voxguard.storage import NotRegularFile, ObjectTooLarge, StorageOptions, read_object
from jobs.score.timeouts import DecodeTimeout, call_with_timeout

# Columns of the rows between the stages (one row per piece of a clip).
PIECE_SCHEMA = pa.schema(
    [
        ("idx", pa.int64()),  # position in this run's listing: the key pieces are regrouped by
        ("uri", pa.string()),
        ("size_bytes", pa.int64()),
        ("fingerprint", pa.string()),
        ("error", pa.string()),
        ("changed", pa.bool_()),  # the object changed between listing and reading (reported)
        ("duration_s", pa.float64()),
        ("sample_rate", pa.int32()),
        ("channels", pa.int32()),
        ("piece", pa.int32()),
        ("n_pieces", pa.int32()),
        ("wave", pa.large_binary()),  # float32 samples covered by this piece's windows
        ("wave_offset", pa.int64()),  # sample index of wave[0] in the clip
        ("starts", pa.list_(pa.int64())),  # window starts (clip sample index)
    ]
)

# What the actor returns per piece: the piece's metadata plus window scores.
SCORED_SCHEMA = pa.schema(
    [f for f in PIECE_SCHEMA if f.name not in ("wave", "wave_offset")]
    + [("ends", pa.list_(pa.int64())), ("scores", pa.list_(pa.float32()))]
)


def _meta(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "idx": item["idx"],
        "uri": item["uri"],
        "size_bytes": item.get("size_bytes"),
        "fingerprint": item.get("fingerprint"),
        "error": item.get("error"),
        "changed": False,
        "duration_s": None,
        "sample_rate": None,
        "channels": None,
        "piece": 0,
        "n_pieces": 1,
        "wave": None,
        "wave_offset": 0,
        "starts": [],
    }


def cut_pieces(waveform: np.ndarray, audio: AudioConfig, windows_per_piece: int) -> list[tuple[int, np.ndarray, list[int]]]:
    """Split a clip into pieces: (offset, samples, window starts), as `siamese.windowing.plan_pieces` plans them."""
    return [(lo, waveform[lo:hi], starts) for lo, hi, starts in plan_pieces(len(waveform), audio, windows_per_piece)]


def decode_batch(
    batch: pa.Table,
    audio: dict[str, Any],
    s3: StorageOptions,
    max_file_bytes: int,
    max_duration_s: float | None,
    windows_per_piece: int,
    decode_timeout_s: float | None = None,
) -> pa.Table:
    """Ray Data CPU stage: read, fingerprint, decode, resample and cut each object of `batch`."""
    config = AudioConfig(**audio)
    rows: list[dict[str, Any]] = []
    for item in batch.to_pylist():
        rows.extend(decode_item(item, config, s3, max_file_bytes, max_duration_s, windows_per_piece, decode_timeout_s))
    return pa.Table.from_pylist(rows, schema=PIECE_SCHEMA)


def decode_item(
    item: dict[str, Any],
    config: AudioConfig,
    s3: StorageOptions,
    max_file_bytes: int,
    max_duration_s: float | None,
    windows_per_piece: int,
    decode_timeout_s: float | None = None,
) -> list[dict[str, Any]]:
    """One listed object -> its piece rows (PIECE_SCHEMA), or one error row; never raises."""
    base = _meta(item)
    if base["error"]:  # listing already failed (e.g. missing file in a manifest)
        return [base]
    if base["size_bytes"] is not None and base["size_bytes"] > max_file_bytes:
        base["error"] = str(TooLarge(f"{base['size_bytes']} bytes exceeds the {max_file_bytes} byte limit"))
        return [base]
    try:
        read = read_object(item["uri"], s3, max_file_bytes)
    except ObjectTooLarge as error:
        base["error"] = str(TooLarge(str(error)))
        return [base]
    except NotRegularFile as error:  # swapped for a FIFO/device after listing: never read
        base["error"] = f"not_regular_file: {error}"
        return [base]
    except Exception as error:  # noqa: BLE001 - any storage failure is this object's error
        base["error"] = f"unreadable: {type(error).__name__}: {error}"
        return [base]
    data = read.data
    base["size_bytes"] = len(data)
    # Changed between listing and reading: the row describes the bytes actually read
    # (their size and fingerprint), and says so, so the summary can count it.
    base["changed"] = read.changed_since(item)
    if read.etag:  # S3: the ETag of the GET that returned these bytes, not the listing's
        base["fingerprint"] = read.etag
    else:
        base["fingerprint"] = "sha256:" + hashlib.sha256(data).hexdigest()
    try:
        decoded = call_with_timeout(decode_audio, decode_timeout_s, data, config, max_duration_s)
    except AudioError as error:
        base["error"] = str(error)
        return [base]
    except DecodeTimeout as error:
        base["error"] = f"timeout: {error}"
        return [base]
    except Exception as error:  # noqa: BLE001 - a decoder bug must not kill the job
        base["error"] = f"undecodable: {type(error).__name__}: {error}"
        return [base]
    del data, read
    base.update(
        duration_s=decoded.duration_s,
        sample_rate=decoded.source_sample_rate,
        channels=decoded.channels,
    )
    pieces = cut_pieces(decoded.waveform, config, windows_per_piece)
    return [
        dict(
            base,
            piece=number,
            n_pieces=len(pieces),
            wave=np.ascontiguousarray(samples, dtype=np.float32).tobytes(),
            wave_offset=offset,
            starts=starts,
        )
        for number, (offset, samples, starts) in enumerate(pieces)
    ]


class PieceScorer:
    """Ray Data actor: holds one model replica and scores the windows of a batch of pieces."""

    def __init__(
        self, package: Any, device: str = "cpu", torch_threads: int = 1, batch_size: int = 64, group: str | None = None,
        engine: str = "float", onnx_path: str | None = None,
    ) -> None:
        import torch

        from siamese.detector import Detector
        from siamese.package_meta import PackageRef

        _limit_malloc_arenas(MALLOC_ARENAS)  # before the call threads allocate (see MALLOC_ARENAS)
        torch.set_num_threads(max(1, torch_threads))
        if isinstance(package, PackageRef):  # the driver sends the path; each actor reads the weights
            package = package.load()
        self.detector = Detector(package, device=device, engine=engine, onnx_path=onnx_path, threads=torch_threads)
        self.audio = package.config.audio
        self.batch_size = batch_size
        # Enrolled bona fide references of this group (instant adaptation) join the bank.
        self.group = group

    def __call__(self, batch: pa.Table) -> pa.Table:
        window = self.audio.window_samples
        rows = batch.drop_columns(["wave", "wave_offset"]).to_pylist()
        waves = batch.column("wave").to_pylist()
        offsets = batch.column("wave_offset").to_pylist()
        # Flatten: (row, window) pairs over all pieces, scored batch_size at a time.
        frames: list[np.ndarray] = []
        owners: list[int] = []
        for r, (row, raw, offset) in enumerate(zip(rows, waves, offsets, strict=True)):
            row["ends"], row["scores"] = [], []
            if row["error"] or raw is None:
                continue
            samples = np.frombuffer(raw, dtype=np.float32)
            for start in row["starts"]:
                frame = samples[start - offset : start - offset + window]
                row["ends"].append(start + len(frame))  # a short clip's one window ends with the clip
                frames.append(pad_window(frame, window))
                owners.append(r)
        scores = self._score(frames)
        for r, value in zip(owners, scores, strict=True):
            rows[r]["scores"].append(float(value))
        return pa.Table.from_pylist(rows, schema=SCORED_SCHEMA)

    def _score(self, frames: list[np.ndarray]) -> np.ndarray:
        out = []
        for first in range(0, len(frames), self.batch_size):
            stacked = np.stack(frames[first : first + self.batch_size])
            out.append(self.detector.score_windows(stacked, group=self.group, batch_size=self.batch_size))
        return np.concatenate(out) if out else np.zeros(0, np.float32)


class ClipScorer:
    """Ray Data actor for CPU machines: read, decode and score in one stage.

    On CPUs the model and the decoder share the same cores, so a separate decode
    stage only adds worker processes, object-store copies of every waveform and
    thread over-subscription (measured in docs/benchmarks.md). Here each actor
    decodes the objects of its batch and scores their windows in the same
    process with `torch_threads` threads. Ray Data may run several calls of one
    actor at once on threads (`max_concurrent_calls_per_actor`): one call's
    decoding overlaps another's inference, and the cores share one torch import
    and one model. Calls share nothing but the read-only model, so this is safe.
    Output: the same per-piece rows (SCORED_SCHEMA) as `PieceScorer`, so the
    driver is unchanged. The local executor (`jobs.score.executors`) runs the same
    object's calls on threads of the `voxguard score` process itself.
    """

    def __init__(
        self,
        package: Any,
        decode: dict[str, Any],
        device: str = "cpu",
        torch_threads: int = 1,
        batch_size: int = 64,
        group: str | None = None,
        engine: str = "float",
        onnx_path: str | None = None,
    ) -> None:
        self.scorer = PieceScorer(package, device=device, torch_threads=torch_threads, batch_size=batch_size,
                                  group=group, engine=engine, onnx_path=onnx_path)
        self.decode = decode

    def __call__(self, batch: pa.Table) -> pa.Table:
        out = self.scorer(decode_batch(batch, **self.decode))
        _trim_heap_above(TRIM_ABOVE_BYTES)
        return out


# Decoding and inference allocate differently sized buffers at every call; glibc keeps freed
# memory in its heaps, one arena per thread up to 8 per core, and an actor's footprint grew
# from ~0.55 to ~0.95 GiB (PSS) over a few hundred clips. The actor caps glibc at
# MALLOC_ARENAS arenas (its threads share them): with one arena, 1,000 clips peaked at
# 1,175 MiB for the actor (two arenas: 1,205; trimming after every call, before: 1,114 with
# the float model) without trimming's cost (every call re-faulted its buffers: 15-20 % of the
# actor's CPU with the bf16 model, whose actor always sat above the old 640 MiB trim line), and
# one arena was not slower than two (docs/benchmarks.md). Trimming stays as a safety net.
MALLOC_ARENAS = 1
TRIM_ABOVE_BYTES = 1536 * 1024**2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number


def _limit_malloc_arenas(count: int) -> None:
    """Cap glibc's malloc arenas for the threads this process starts from now on (no-op elsewhere)."""
    libc = _load_libc()
    if libc and hasattr(libc, "mallopt"):
        libc.mallopt(_M_ARENA_MAX, count)


def _load_libc():  # type: ignore[no-untyped-def] # ctypes.CDLL | False
    global _libc  # noqa: PLW0603 - loaded once per process
    if _libc is None:
        import ctypes
        import ctypes.util

        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _libc.malloc_trim  # noqa: B018 - glibc only (musl has none)
        except (OSError, AttributeError):
            _libc = False
    return _libc


def _trim_heap_above(limit: int) -> None:
    """Return free heap memory to the OS (glibc `malloc_trim`) when this process's RSS exceeds `limit`."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            rss = int(handle.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return  # not Linux: nothing to do
    if rss <= limit:
        return
    libc = _load_libc()
    if libc:
        libc.malloc_trim(0)


_libc = None
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
