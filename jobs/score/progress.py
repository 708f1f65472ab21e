"""Live progress of a scoring job: clips counted as they are scored, not as parts are written.

Two outputs of the same numbers (done/total clips, clips/s, audio hours/s,
x real-time, ETA):
- a terminal gets a tqdm bar (tqdm is already a dependency: maintained, handles
  resizing and redraw rates);
- anything else (a log file, the dashboard's job log, CI) gets one plain line
  every `every_s` seconds, plus one as soon as the first clips are scored.
  The line starts `[score] DONE/TOTAL clips`, which the dashboard's job page
  parses for its progress bar.

Rates and the ETA are measured from the first scored clip, so Ray's start-up
and model loading do not make the ETA of a long job pessimistic.
"""

from __future__ import annotations

import bisect
import sys
import time
from collections.abc import Callable
from typing import Any

from jobs.score.summary import JobStats


# The shortest span a rate is measured over (see `Progress.rates`).
RATE_WINDOW_S = 10.0


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """Reports a job's `JobStats` while it runs; call `update()` after each batch of clips."""

    def __init__(
        self,
        stats: JobStats,
        total: int,
        emit: Callable[[str], None],
        every_s: float = 10.0,
        bar: bool = False,
    ) -> None:
        self.stats = stats
        self.total = total
        self.emit = emit
        self.every_s = every_s
        self._first: tuple[float, int, float] | None = None  # (time, rows, audio_s) at the first scored clips
        self._history: list[tuple[float, int, float]] = []  # (time, rows, audio_s) at each update since
        self._last_line = 0.0
        self._bar: Any = None
        if bar and total:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="clip", dynamic_ncols=True, file=sys.stderr, smoothing=0.1)

    def rates(self) -> dict[str, float | None]:
        """clips/s, audio s per s and ETA (s), measured over the recent half of the job so far.

        Since the first scored clips, not since the start (what comes before is start-up),
        and only over the later half of that time (at least `RATE_WINDOW_S`): the first calls
        of each actor are slower (kernel warm-up, cold caches), and a rate that still counts
        them over-estimated the time left by 22-55 % halfway through 400-1,000-clip jobs.
        """
        now = time.monotonic()
        if self._first is None:
            return {"clips_per_s": 0.0, "audio_s_per_s": 0.0, "eta_s": None}
        t0, rows0, audio0 = self._first
        since = max(t0, min(now - RATE_WINDOW_S, now - (now - t0) / 2))
        at = bisect.bisect_right(self._history, since, key=lambda sample: sample[0]) - 1  # newest at or before `since`
        if at >= 0:
            t0, rows0, audio0 = self._history[at]
        wall = now - t0
        clips = self.stats.rows - rows0
        if wall <= 0 or clips <= 0:
            return {"clips_per_s": 0.0, "audio_s_per_s": 0.0, "eta_s": None}
        rate = clips / wall
        return {
            "clips_per_s": rate,
            "audio_s_per_s": (self.stats.audio_s - audio0) / wall,
            "eta_s": (self.total - self.stats.rows) / rate,
        }

    def line(self) -> str:
        """`[score] DONE/TOTAL clips  R clips/s  H h audio (X h/s, Nx real-time)  ETA T  flagged F  errors E`."""
        r = self.rates()
        eta = "-" if r["eta_s"] is None else _duration(float(r["eta_s"]))
        s = self.stats
        if r["eta_s"] is None:  # no rate measured yet (the first batch is start-up): say so, not "0.0"
            speed = "- clips/s  {:.2f} h audio (- h/s, - x real-time)".format(s.audio_s / 3600)
        else:
            speed = (f"{r['clips_per_s']:.1f} clips/s  {s.audio_s / 3600:.2f} h audio "
                     f"({(r['audio_s_per_s'] or 0) / 3600:.3f} h/s, {r['audio_s_per_s']:.0f}x real-time)")
        return (
            f"[score] {s.rows}/{self.total} clips  {speed}  ETA {eta}  flagged {s.flagged}  "
            f"errors {s.errors}  parts {s.parts_written}"
        )

    def update(self) -> None:
        """Account for the clips added to `stats` since the last call."""
        now = time.monotonic()
        if self._first is None:
            if not self.stats.rows:
                return
            # The first batch: rates start here (what was scored before it was start-up).
            self._first = (now, self.stats.rows, self.stats.audio_s)
            first_line = True
        else:
            first_line = False
        self._history.append((now, self.stats.rows, self.stats.audio_s))
        if self._bar is not None:
            self._bar.n = self.stats.rows
            r = self.rates()
            self._bar.set_postfix_str(
                f"{(r['audio_s_per_s'] or 0) / 3600:.3f} h audio/s, {r['audio_s_per_s']:.0f}x real-time, "
                f"flagged {self.stats.flagged}, errors {self.stats.errors}",
                refresh=True,
            )
            return
        if first_line or now - self._last_line >= self.every_s:
            self.emit(self.line())
            self._last_line = now

    def close(self) -> None:
        """Finish the bar (if any) and emit the final line."""
        if self._bar is not None:
            self._bar.n = self.stats.rows
            self._bar.close()
            self._bar = None
        self.emit(self.line())
