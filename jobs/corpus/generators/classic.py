"""Classic (formant / diphone / unit / HMM) TTS from Debian: espeak-ng, flite, festival; run as subprocesses."""

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


# Festival voice function (without `voice_`) -> (generator name, Debian package, licence of the voice).
# Festival itself: X11-style permissive (CSTR, University of Edinburgh; /usr/share/doc/festival/copyright).
# Voice licences from /usr/share/doc/<package>/copyright.
FESTIVAL_VOICES: dict[str, tuple[str, str, str]] = {
    "kal_diphone": ("festival-kal", "festvox-kallpc16k", "X11-style permissive (Alan W Black and Kevin Lenzo)"),
    "ked_diphone": ("festival-ked", "festvox-kdlpc16k", "X11-style permissive (CSTR, University of Edinburgh)"),
    "cmu_us_slt_arctic_hts": (
        "festival-slt-hts", "festvox-us-slt-hts", "EST-2003/EST-2000 permissive (CMU) + BSD-3-Clause (HTS, NITech)",
    ),
}
_FESTIVAL_LICENCE = "X11-style permissive (Festival, CSTR; run as a separate process)"


@lru_cache(maxsize=1)
def festival_voices() -> frozenset[str]:
    """Voices this festival installation offers (`(voice.list)`), e.g. kal_diphone."""
    if not shutil.which("festival") or not shutil.which("text2wave"):
        return frozenset()
    try:
        listing = subprocess.run(
            ["festival", "--pipe"], input="(print (voice.list))\n", capture_output=True, text=True,
            timeout=60, check=False,
        ).stdout
    except subprocess.TimeoutExpired:
        return frozenset()
    return frozenset(listing.replace("(", " ").replace(")", " ").split())


def _festival_sample_for(voice: str):  # noqa: ANN202 - returns the sampler closure
    def sample(rng: random.Random, language: str) -> tuple[dict[str, Any], str]:
        params: dict[str, Any] = {"voice": voice, "stretch": round(rng.uniform(0.8, 1.3), 2)}
        if voice.endswith("_diphone"):
            # Diphone voices take their F0 from int_lr_params (the voices' own default mean is 105 Hz).
            params["f0_mean"] = rng.randint(85, 160)
            params["f0_std"] = rng.randint(8, 30)
        return params, FESTIVAL_VOICES[voice][0]

    return sample


def _festival_synthesize(text: str, language: str, params: dict[str, Any]) -> tuple[np.ndarray, int]:
    command = ["text2wave", "-eval", f"(voice_{params['voice']})"]
    if "f0_mean" in params:  # diphone voices: duration stretch and LR intonation targets
        command += [
            "-eval", f"(Parameter.set 'Duration_Stretch {params['stretch']})",
            "-eval", f"(set! int_lr_params '((target_f0_mean {params['f0_mean']}) (target_f0_std {params['f0_std']})"
                     " (model_f0_mean 170) (model_f0_std 34)))",
        ]
    else:  # HTS voices ignore Duration_Stretch; hts_engine's speaking rate (-r) is the inverse stretch
        rate = round(1.0 / params["stretch"], 3)
        command += ["-eval", f"(set! hts_engine_params (append hts_engine_params (list '(\"-r\" {rate}))))"]
    return run_to_wav([*command, "-o", "{out}"], stdin_text=text)


def classic_generators() -> list[TTSGenerator]:
    """espeak-ng (many voices and variants), one generator per flite voice and one per festival voice."""
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
    for voice, (name, package, voice_licence) in FESTIVAL_VOICES.items():
        out.append(
            TTSGenerator(
                name=name,
                family="tts-classic",
                licence=f"{_FESTIVAL_LICENCE}; voice {package}: {voice_licence}",
                languages=frozenset({"en"}),
                sample=_festival_sample_for(voice),
                synthesize=_festival_synthesize,
                available=lambda voice=voice: voice in festival_voices(),
            )
        )
    return out
