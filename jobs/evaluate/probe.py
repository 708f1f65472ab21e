"""Frozen-feature probe: how far can a pretrained front-end take us before any CNN is trained?

For each layer of the frozen Whisper encoder (log-mel input, conv stem, each transformer block)
every clip becomes the mean and standard deviation of that layer's features over time; a
logistic regression trained on the corpus train split then scores dev, test and the
cross-corpus devset. The regularisation strength is chosen on the dev split (never on the
devset). Optional: the resemblyzer speaker encoder (`pip install resemblyzer webrtcvad-wheels`),
the other offline pretrained candidate.

A linear probe is a ceiling check, not a product: if no layer separates unseen corpora
linearly, a small CNN on that layer is unlikely to either.

Usage: python -m jobs.evaluate.probe --manifest var/corpus/manifest.parquet [--resemblyzer]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch

from jobs.train.config import REPO_ROOT
from siamese.audio import decode_audio
from siamese.metrics import eer
from siamese.whisper import WhisperLogMel, encoder_depth, load_whisper_encoder

SAMPLE_RATE = 16000
C_GRID = (0.001, 0.01, 0.1, 1.0)
Extractor = Callable[[np.ndarray], dict[str, np.ndarray]]


def whisper_layer_stats(max_seconds: float, model_bin: Path | None = None, weights: str = "tiny.en") -> Extractor:
    """Mean+std over time of every layer of a Whisper encoder (default: tiny.en), for one 16 kHz waveform."""
    log_mel = WhisperLogMel()
    encoder = load_whisper_encoder(encoder_depth(model_bin), model_bin, weights)

    def extract(waveform: np.ndarray) -> dict[str, np.ndarray]:
        x = torch.from_numpy(_fit_length(waveform, max_seconds))[None]
        with torch.no_grad():
            mel = log_mel(x)
            stem, *blocks = encoder.hidden_states(mel)
            layers = {"log-mel (Whisper input)": mel.transpose(1, 2), "Whisper conv stem": stem}
            layers.update({f"Whisper block {i}": h for i, h in enumerate(blocks, start=1)})
        return {name: torch.cat([t[0].mean(0), t[0].std(0)]).numpy() for name, t in layers.items()}

    return extract


def resemblyzer_embedding(max_seconds: float) -> Extractor:
    """The resemblyzer speaker encoder's utterance embedding (256-d)."""
    from resemblyzer import VoiceEncoder

    voice = VoiceEncoder("cpu", verbose=False)
    return lambda w: {"resemblyzer speaker embedding": voice.embed_utterance(_fit_length(w, max_seconds))}


def spectral_stats(max_seconds: float) -> Extractor:
    """Mean+std over time of classic anti-spoofing spectra: LFCC (20 + deltas) and the log power spectrum.

    Why: Whisper's 80 mel bands compress everything above ~4 kHz into a few rows, while vocoder and codec
    artefacts are often strongest there; these two linear-frequency views keep that band at full
    resolution (25 ms windows, 10 ms hop, 512-point FFT at 16 kHz: 257 bins of 31 Hz).
    """
    import torchaudio.functional as F
    from torchaudio import transforms as T

    speckwargs = {"n_fft": 512, "win_length": 400, "hop_length": 160}
    lfcc = T.LFCC(sample_rate=SAMPLE_RATE, n_filter=70, n_lfcc=20, speckwargs=speckwargs)
    power = T.Spectrogram(power=2.0, **speckwargs)

    def extract(waveform: np.ndarray) -> dict[str, np.ndarray]:
        x = torch.from_numpy(_fit_length(waveform, max_seconds))[None]
        with torch.no_grad():
            c = lfcc(x)[0]  # [20, frames]
            cepstra = torch.cat([c, F.compute_deltas(c), F.compute_deltas(F.compute_deltas(c))])
            spectrum = torch.log(power(x)[0] + 1e-8)  # [257, frames]
        return {name: torch.cat([t.mean(1), t.std(1)]).numpy()
                for name, t in (("LFCC (20 + deltas)", cepstra), ("log power spectrum (257 bins)", spectrum))}

    return extract


def _fit_length(waveform: np.ndarray, max_seconds: float) -> np.ndarray:
    """First `max_seconds`; clips under 1 s repeated up to 1 s (as windowing pads)."""
    w = np.asarray(waveform, dtype=np.float32)[: int(max_seconds * SAMPLE_RATE)]
    if len(w) < SAMPLE_RATE:
        w = np.resize(w, SAMPLE_RATE)
    return np.ascontiguousarray(w)


def clip_table(manifest: Path, devset: Path | None, per_split: dict[str, int], seed: int) -> pd.DataFrame:
    """A class-blind random sample of each corpus split, plus the whole devset (column `split`='devset')."""
    frame = pd.read_parquet(manifest)
    parts = [frame[frame.split == s].sample(min(n, int((frame.split == s).sum())), random_state=seed)
             for s, n in per_split.items()]
    table = pd.concat(parts)[["path", "label", "split", "generator"]]
    if devset is not None and (devset / "manifest.csv").exists():
        d = pd.read_csv(devset / "manifest.csv")
        d = d.assign(path=[str(devset / p) for p in d.path], split="devset", generator=d.system)
        table = pd.concat([table, d[["path", "label", "split", "generator"]]])
    return table.reset_index(drop=True)


def _waveform(path: str, split: str) -> np.ndarray:
    if split == "devset":  # other corpora: any rate, any container
        return decode_audio(path).waveform
    samples, rate = sf.read(path, dtype="float32", always_2d=True)  # corpus clips: 16 kHz mono already
    if rate != SAMPLE_RATE:
        raise ValueError(f"{path}: {rate} Hz, the corpus should be {SAMPLE_RATE} Hz")
    return samples.mean(axis=1)


def extract_all(table: pd.DataFrame, extractors: list[Extractor]) -> dict[str, np.ndarray]:
    """Feature matrices per feature set, rows aligned with `table`."""
    rows: dict[str, list[np.ndarray]] = {}
    started = time.time()
    for i, (path, split) in enumerate(zip(table.path, table.split)):
        waveform = _waveform(path, split)
        for extract in extractors:
            for name, vector in extract(waveform).items():
                rows.setdefault(name, []).append(vector)
        if i % 500 == 0:
            print(f"[probe] {i}/{len(table)} clips, {time.time() - started:.0f} s", flush=True)
    return {name: np.stack(v) for name, v in rows.items()}


def fit_and_score(x: np.ndarray, bona: np.ndarray, train: np.ndarray, dev: np.ndarray,
                  targets: dict[str, np.ndarray], max_iter: int = 5000, tol: float = 1e-4) -> dict[str, float]:
    """Logistic regression on the `train` rows, C chosen by EER on the `dev` rows; EER on each target mask.

    The one probe fit: the split probe below and the leave-family-out probe differ only in which rows
    they pass.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    z = StandardScaler().fit(x[train]).transform(x)
    best: tuple[float, float, np.ndarray] | None = None
    for c in C_GRID:
        model = LogisticRegression(C=c, max_iter=max_iter, tol=tol, class_weight="balanced").fit(z[train], bona[train])
        scores = model.decision_function(z)  # higher = more bona fide
        dev_eer = eer(scores[dev], bona[dev])[0]
        if best is None or dev_eer < best[0]:
            best = (dev_eer, c, scores)
    assert best is not None
    dev_eer, c, scores = best
    result = {"C": c, "dev": dev_eer}
    for name, mask in targets.items():
        if mask.any() and 0 < bona[mask].sum() < mask.sum():
            result[name] = eer(scores[mask], bona[mask])[0]
    return result


def probe(features: np.ndarray, table: pd.DataFrame) -> dict[str, float]:
    """Logistic regression on train; C chosen by dev EER; EERs on train, dev, test and devset."""
    bona = (table.label == "bonafide").to_numpy().astype(int)
    split = table.split.to_numpy()
    return fit_and_score(features, bona, split == "train", split == "dev",
                         {name: split == name for name in ("train", "dev", "test", "devset")})


def table_markdown(results: dict[str, dict[str, float]]) -> str:
    """One row per feature set."""
    lines = ["| Frozen features (mean+std over time) | C | Train EER | Dev EER | Test EER | Devset EER |",
             "|---|---|---|---|---|---|"]
    for name, r in results.items():
        cells = [f"{100 * r[k]:.1f} %" if k in r else "n/a" for k in ("train", "dev", "test", "devset")]
        lines.append(f"| {name} | {r['C']:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """CLI: extract, probe, print (and optionally write) the Markdown table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--manifest", type=Path, default=REPO_ROOT / "var" / "corpus" / "manifest.parquet")
    p.add_argument("--devset", type=Path, default=REPO_ROOT.parent / "shared" / "devset")
    p.add_argument("--train-clips", type=int, default=2400)
    p.add_argument("--dev-clips", type=int, default=600)
    p.add_argument("--test-clips", type=int, default=1440)
    p.add_argument("--max-seconds", type=float, default=8.0)
    p.add_argument("--resemblyzer", action="store_true", help="also probe the resemblyzer speaker encoder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="write the table here too")
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    table = clip_table(args.manifest, args.devset if args.devset.exists() else None,
                       {"train": args.train_clips, "dev": args.dev_clips, "test": args.test_clips}, args.seed)
    extractors = [whisper_layer_stats(args.max_seconds)]
    if args.resemblyzer:
        extractors.append(resemblyzer_embedding(args.max_seconds))
    features = extract_all(table, extractors)
    results = {name: probe(matrix, table) for name, matrix in features.items()}
    markdown = table_markdown(results)
    print(markdown)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
