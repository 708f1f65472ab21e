"""A per-object time limit for decoding, so one hostile file cannot stall a job.

Decoders (libsndfile, FFmpeg through PyAV) run C code that Python cannot
interrupt. The call runs on a helper thread and the caller waits at most
`timeout_s`: past it the object becomes a `timeout` error row and the job
goes on. The stuck thread cannot be killed; it is abandoned (a daemon, so it
never blocks the worker's exit) and the next object gets a fresh thread. While
`MAX_ABANDONED` abandoned threads are still running in a worker, it refuses to
start more (those objects become `timeout` rows too, saying why), so a flood of
hostile files cannot pile up spinning threads. `timeout` rows are transient:
`--resume` reads those objects again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

MAX_ABANDONED = 8
_abandoned: list[threading.Thread] = []
_lock = threading.Lock()


class DecodeTimeout(Exception):
    """The call did not finish within its time limit."""


def call_with_timeout(fn: Callable[..., T], timeout_s: float | None, *args: Any) -> T:
    """`fn(*args)`, or `DecodeTimeout` after `timeout_s` seconds (None or <= 0: no limit)."""
    if not timeout_s or timeout_s <= 0:
        return fn(*args)
    with _lock:
        _abandoned[:] = [t for t in _abandoned if t.is_alive()]
        if len(_abandoned) >= MAX_ABANDONED:
            raise DecodeTimeout(f"not started: {len(_abandoned)} earlier decodes in this worker are still stuck")
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn(*args)
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, name="voxguard-decode", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        with _lock:
            _abandoned.append(thread)
        raise DecodeTimeout(f"decoding took longer than {timeout_s:g} s (abandoned)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
