"""Shortcut audit: can a trivial classifier tell the classes apart from metadata alone?

Features (no content): file sample rate, effective bandwidth (95 % spectral roll-off), duration,
RMS level, peak level, leading-silence length. A depth-3 tree and a logistic regression are
cross-validated (folds grouped by speaker); a result near the majority-class rate means the
processing removed those shortcuts.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FEATURES = ("sample_rate", "rolloff95_hz", "duration_s", "rms_db", "peak_db", "leading_silence_s")


def clip_features(path: str | Path) -> dict[str, float]:
    """Metadata-only features of one file at its own sample rate (no resampling)."""
    from siamese.audio import _decode_any  # native rate: the raw rate is itself a feature

    samples, rate = _decode_any(Path(path).read_bytes(), None)
    x = samples.mean(axis=1).astype(np.float64)
    n_fft = 1024
    frames = len(x) // n_fft
    if frames:
        spectrum = np.abs(np.fft.rfft(x[: frames * n_fft].reshape(frames, n_fft) * np.hanning(n_fft), axis=1)) ** 2
        power = spectrum.sum(axis=0)
        cumulative = np.cumsum(power) / max(power.sum(), 1e-20)
        rolloff = float(np.searchsorted(cumulative, 0.95)) * rate / n_fft
    else:
        rolloff = 0.0
    peak = float(np.max(np.abs(x), initial=0.0))
    rms = float(np.sqrt(np.mean(x**2))) if len(x) else 0.0
    # Leading silence: time until a 10 ms frame comes within 40 dB of the peak.
    hop = max(1, rate // 100)
    frame_rms = np.sqrt(np.mean(x[: (len(x) // hop) * hop].reshape(-1, hop) ** 2, axis=1)) if len(x) >= hop else np.zeros(1)
    loud = np.nonzero(frame_rms > peak * 10 ** (-40 / 20))[0]
    lead = float(loud[0] * hop / rate) if len(loud) else len(x) / rate
    return {
        "sample_rate": float(rate),
        "rolloff95_hz": rolloff,
        "duration_s": len(x) / rate,
        "rms_db": 20 * np.log10(rms + 1e-9),
        "peak_db": 20 * np.log10(peak + 1e-9),
        "leading_silence_s": lead,
    }


def features_table(paths: Iterable[str], labels: Iterable[str], groups: Iterable[str]) -> pd.DataFrame:
    """Features of many files; unreadable files are skipped."""
    rows = []
    for path, label, group in zip(paths, labels, groups, strict=True):
        try:
            rows.append({**clip_features(path), "path": str(path), "label": label, "group": group})
        except Exception:  # noqa: BLE001 - an unreadable clip just doesn't count
            continue
    return pd.DataFrame(rows)


def classify(table: pd.DataFrame, seed: int = 0, folds: int = 5) -> dict[str, Any]:
    """Cross-validated accuracy of trivial classifiers vs the majority-class rate."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, balanced_accuracy_score
    from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    if table.empty:
        return {"n": 0, "note": "no readable clips"}
    y = (table["label"] == "spoof").to_numpy(int)
    X = table[list(FEATURES)].to_numpy(float)
    majority = float(max(y.mean(), 1 - y.mean())) if len(y) else 0.0
    result: dict[str, Any] = {"n": int(len(y)), "n_spoof": int(y.sum()), "chance_majority": round(majority, 4)}
    if len(y) < 6 or len(set(y)) < 2:
        result["note"] = "too few clips or one class only"
        return result
    groups = table["group"].to_numpy()
    n_groups = len(set(groups))
    if n_groups >= folds:
        cv, kwargs = GroupKFold(n_splits=folds), {"groups": groups}
        result["cv"] = f"{folds}-fold grouped by speaker"
    else:
        cv, kwargs = StratifiedKFold(n_splits=min(folds, int(min(y.sum(), len(y) - y.sum()))), shuffle=True, random_state=seed), {}
        result["cv"] = "stratified (too few speakers to group)"
    models = {
        "tree_depth3": DecisionTreeClassifier(max_depth=3, random_state=seed),
        "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    }
    def oof(model: Any, columns: list[int]) -> np.ndarray:
        # Out-of-fold predictions pooled over all folds: robust when a fold holds one class only.
        return cross_val_predict(model, X[:, columns], y, cv=cv, **kwargs)

    everything = list(range(len(FEATURES)))
    for name, model in models.items():
        pred = oof(model, everything)
        result[name] = {
            "accuracy": round(float(accuracy_score(y, pred)), 4),
            "balanced_accuracy": round(float(balanced_accuracy_score(y, pred)), 4),
        }
    # How far each feature alone gets (depth-1 tree), to name the remaining shortcut.
    single = {}
    for i, feature in enumerate(FEATURES):
        pred = oof(DecisionTreeClassifier(max_depth=1, random_state=seed), [i])
        single[feature] = round(float(balanced_accuracy_score(y, pred)), 4)
    result["single_feature_balanced_accuracy"] = single
    return result


def audit_manifest(manifest: pd.DataFrame, seed: int = 0) -> dict[str, Any]:
    """Audit processed clips: all of them, the un-augmented copies only, and the augmented ones."""
    table = features_table(manifest["path"], manifest["label"], manifest["speaker"])
    augmented = manifest.set_index("path")["augmentation"].astype(bool)
    table["augmented"] = table["path"].map(augmented).fillna(False).astype(bool)
    return {
        "processed_all": classify(table, seed),
        "processed_clean": classify(table[~table["augmented"]], seed),
        "processed_augmented": classify(table[table["augmented"]], seed),
    }


def audit_raw(paths: list[str], labels: list[str], speakers: list[str], seed: int = 0) -> dict[str, Any]:
    """Audit the inputs as given (before any processing)."""
    return classify(features_table(paths, labels, speakers), seed)
