"""Human progress lines for a retraining: one per epoch, with loss, dev EER and an ETA.

A retraining on CPU runs for minutes to hours; without these lines the command
printed nothing until the end. The ETA is the mean epoch time so far times the
epochs left (the first epoch includes worker start-up, so early ETAs run high).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def fmt_duration(seconds: float) -> str:
    """`45s`, `3m05s`, `1h02m`."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class EpochProgress:
    """Callable given to the trainer: formats each epoch report and passes the line to `say`."""

    def __init__(self, epochs: int, say: Callable[[str], None], on_epoch: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.epochs, self.say, self.on_epoch, self.clock = epochs, say, on_epoch, clock
        self.started = clock()
        self.done = 0

    def __call__(self, report: dict[str, Any]) -> None:
        self.done = int(report.get("epoch", self.done)) + 1
        elapsed = self.clock() - self.started
        left = max(0, self.epochs - self.done)
        eta = "done" if left == 0 or report.get("stopped") else f"ETA {fmt_duration(elapsed / self.done * left)}"
        eer = report.get("dev_eer")
        eer_text = "—" if eer is None else f"{100 * float(eer):.1f} %"
        self.say(f"epoch {self.done}/{self.epochs}  loss {float(report.get('loss', float('nan'))):.4f}  "
                 f"dev EER {eer_text}  elapsed {fmt_duration(elapsed)}  {eta}")
        if self.on_epoch is not None:
            self.on_epoch()
