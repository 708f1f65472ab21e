"""Classic (formant / diphone / unit) TTS from Debian: espeak-ng and flite, run as subprocesses."""

from __future__ import annotations

import random
import shutil
import subprocess
from functools import lru_cache
from typing import Any

import numpy as np

from jobs.corpus.generators.base import TTSGenerator, run_to_wav

_ESPEAK_EN_VOICES = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbcwmd")
_ESPEAK_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m7", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "croak", "Annie", "Michael", "Andy", "Steph", "norbert", "grandma",
)


def _espeak_sample(rng: random.Random, language: str) -> tuple[dict[str, Any], str]:
    voice = "cmn" if language == "zh" else rng.choice(_ESPEAK_EN_VOICES)
    variant = rng.choice(_ESPEAK_VARIANTS)
    params = {"voice": voice, "variant": variant, "speed": rng.randint(120, 200), "pitch": rng.randint(25, 75)}
    return params, f"espeak-ng:{voice}+{variant}"


def _espeak_synthesize(text: str, language: str, params: dict[str, Any]) -> tuple[np.ndarray, int]:
    return run_to_wav(
        ["espeak-ng", "-v", f"{params['voice']}+{params['variant']}", "-s", str(params["speed"]),
         "-p", str(params["pitch"]), "-w", "{out}", "--stdin"],
        stdin_text=text,
    )


@lru_cache(maxsize=1)
def flite_voices() -> frozenset[str]:
    """Voices this flite build offers (`flite -lv`)."""
    if not shutil.which("flite"):
        return frozenset()
    listing = subprocess.run(["flite", "-lv"], capture_output=True, text=True, check=False).stdout
    return frozenset(listing.split(":", 1)[-1].split())


def _flite_sample_for(voice: str):  # noqa: ANN202 - returns the sampler closure
    def sample(rng: random.Random, language: str) -> tuple[dict[str, Any], str]:
        params = {"voice": voice, "stretch": round(rng.uniform(0.8, 1.3), 2), "f0": rng.randint(85, 180)}
        return params, f"flite-{voice}"

    return sample


def _flite_synthesize(text: str, language: str, params: dict[str, Any]) -> tuple[np.ndarray, int]:
    return run_to_wav(
        ["flite", "-voice", params["voice"], "--setf", f"duration_stretch={params['stretch']}",
         "--setf", f"int_f0_target_mean={params['f0']}", "-t", text, "-o", "{out}"]
    )


def classic_generators() -> list[TTSGenerator]:
    """espeak-ng (many voices and variants) and one generator per flite voice."""
    out = [
        TTSGenerator(
            name="espeak-ng",
            family="tts-classic",
            licence="GPL-3.0-or-later (espeak-ng, run as a separate process)",
            languages=frozenset({"en", "zh"}),
            sample=_espeak_sample,
            synthesize=_espeak_synthesize,
            available=lambda: shutil.which("espeak-ng") is not None,
        )
    ]
    for voice in ("kal", "awb", "rms", "slt"):
        out.append(
            TTSGenerator(
                name=f"flite-{voice}",
                family="tts-classic",
                licence="BSD-like (flite / CMU Festvox licence)",
                languages=frozenset({"en"}),
                sample=_flite_sample_for(voice),
                synthesize=_flite_synthesize,
                available=lambda voice=voice: voice in flite_voices(),
            )
        )
    return out
