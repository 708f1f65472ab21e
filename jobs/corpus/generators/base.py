"""What every generator offers: a name, a family, a licence, and one way to make audio."""

from __future__ import annotations

import random
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile


@dataclass(frozen=True)
class TTSGenerator:
    """Text -> speech. `sample` draws per-utterance parameters and the voice (= speaker id)."""

    name: str
    family: str
    licence: str
    languages: frozenset[str]
    sample: Callable[[random.Random, str], tuple[dict[str, Any], str]]
    synthesize: Callable[[str, str, dict[str, Any]], tuple[np.ndarray, int]]
    available: Callable[[], bool] = field(default=lambda: True)
    kind: str = "tts"


@dataclass(frozen=True)
class CopyGenerator:
    """Bona fide waveform -> the same words and speaker through another generator (copy-synthesis)."""

    name: str
    family: str
    licence: str
    resynthesize: Callable[[np.ndarray, int], tuple[np.ndarray, int]]
    available: Callable[[], bool] = field(default=lambda: True)
    # Relative CPU cost; the planner caps the expensive ones.
    cost: float = 1.0
    kind: str = "copy"


def run_to_wav(command: list[str], stdin_text: str | None = None, timeout_s: float = 120.0) -> tuple[np.ndarray, int]:
    """Run an external synthesiser that writes `{out}` (a WAV path) and return (mono float32, rate).

    External programs (espeak-ng, flite, piper) run as separate processes: several are GPL,
    and our package stays permissively licensed by never linking them.
    """
    with tempfile.TemporaryDirectory(prefix="vg-tts-") as tmp:
        out = Path(tmp) / "out.wav"
        argv = [part.replace("{out}", str(out)) for part in command]
        result = subprocess.run(
            argv,
            input=stdin_text.encode("utf-8") if stdin_text is not None else None,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
        if result.returncode != 0 or not out.is_file():
            raise RuntimeError(f"{argv[0]} failed ({result.returncode}): {result.stderr.decode(errors='replace')[-400:]}")
        samples, rate = soundfile.read(out, dtype="float32", always_2d=True)
    return samples.mean(axis=1).astype(np.float32), int(rate)
