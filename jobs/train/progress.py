"""Per-epoch reports from Ray Train back to the driver process, for progress lines.

Ray Train (v2) calls a `UserCallback.after_report` on its *controller* actor, not
in the process that called `fit()`, so a callback cannot print to the user's
terminal itself. It puts each report on a `ray.util.queue.Queue` (an actor, so
this works on a cluster too) and a thread in the driver hands them to `on_epoch`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ray.train import UserCallback

_STOP = "__voxguard_progress_stop__"
log = logging.getLogger(__name__)


class _QueueCallback(UserCallback):
    """Runs on the Train controller: forwards rank 0's report of each epoch."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def after_report(self, run_context: Any, metrics: list[dict[str, Any]], checkpoint: Any) -> None:
        if metrics:
            self.queue.put(dict(metrics[0]))


class ProgressRelay:
    """Owns the queue, the callback to give Ray Train, and the driver thread calling `on_epoch`."""

    def __init__(self, on_epoch: Callable[[dict[str, Any]], None]) -> None:
        from ray.util.queue import Queue

        self._on_epoch = on_epoch
        self._queue = Queue()
        self.callback = _QueueCallback(self._queue)
        self._thread = threading.Thread(target=self._drain, name="train-progress", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            if item == _STOP:
                return
            try:
                self._on_epoch(item)
            except Exception:  # a broken progress printer must not break training
                log.exception("progress report failed")

    def close(self) -> None:
        """Deliver what is queued, then stop the thread and the queue actor."""
        self._queue.put(_STOP)
        self._thread.join(timeout=30)
        self._queue.shutdown()
