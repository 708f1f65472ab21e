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

Each calling thread keeps its helper thread from one object to the next (a new
thread per object cost a thread start and, in glibc, freshly faulted heap pages
at every decode); only an abandoned helper is replaced. A helper ends with its
calling thread: a process that runs many jobs on short-lived threads (the local
executor, `jobs.score.executors`) does not collect idle helpers.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

MAX_ABANDONED = 8
_abandoned: list[threading.Thread] = []
_lock = threading.Lock()


class DecodeTimeout(Exception):
    """The call did not finish within its time limit."""


Requests = queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], threading.Event] | None]


class _Helper:
    """One daemon thread running the calls of one caller thread, one at a time.

    Only the caller's thread-local storage holds this object (the thread holds just the
    queue): when the caller thread ends, Python drops that storage, and the finalizer
    tells the helper thread to exit.
    """

    def __init__(self) -> None:
        self.requests: Requests = queue.SimpleQueue()
        self.thread = threading.Thread(target=_serve, args=(self.requests,), name="voxguard-decode", daemon=True)
        self.thread.start()
        weakref.finalize(self, self.requests.put, None)


def _serve(requests: Requests) -> None:
    while True:
        request = requests.get()
        if request is None:  # abandoned or its caller ended: exit once any stuck call returns
            return
        fn, args, outcome, done = request
        try:
            outcome["value"] = fn(*args)
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = error
        done.set()


_helpers = threading.local()


def call_with_timeout(fn: Callable[..., T], timeout_s: float | None, *args: Any) -> T:
    """`fn(*args)`, or `DecodeTimeout` after `timeout_s` seconds (None or <= 0: no limit)."""
    if not timeout_s or timeout_s <= 0:
        return fn(*args)
    helper: _Helper | None = getattr(_helpers, "helper", None)
    if helper is None:
        with _lock:
            _abandoned[:] = [t for t in _abandoned if t.is_alive()]
            if len(_abandoned) >= MAX_ABANDONED:
                raise DecodeTimeout(f"not started: {len(_abandoned)} earlier decodes in this worker are still stuck")
        helper = _helpers.helper = _Helper()
    outcome: dict[str, Any] = {}
    done = threading.Event()
    helper.requests.put((fn, args, outcome, done))
    if not done.wait(timeout_s):
        _helpers.helper = None  # stuck on this object: the next one gets a fresh thread
        helper.requests.put(None)
        with _lock:
            _abandoned.append(helper.thread)
        raise DecodeTimeout(f"decoding took longer than {timeout_s:g} s (abandoned)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
