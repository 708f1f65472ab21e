"""Markdown metrics card of a model package (test split, cross-corpus devset, training record)."""

from __future__ import annotations

from siamese.metrics import format_card_markdown
from siamese.package import ModelPackage

_TITLES = {
    "test": "Test split (leave-generator-out, speakers disjoint from training)",
    "devset": "Cross-corpus devset (../shared/devset; reporting only, nothing fitted on it)",
    "dev": "Dev split (used for early stopping and calibration)",
}


def _how_chosen(pkg: ModelPackage) -> str:
    """The operating point's rule in words (a reader must know whether it promises a false-rejection rate)."""
    method = pkg.operating_point.method
    if method == "frr":
        target = pkg.training.get("target_frr")
        share = f"{100 * float(target):g} %" if target is not None else "a target share"
        return f"chosen on the dev split to reject at most {share} of its real recordings"
    if method == "eer":
        return "the dev split's equal-error threshold"
    return "chosen on the dev split by the cost model: P(spoof) 0.05, C_fa 10"


def card_markdown(pkg: ModelPackage) -> str:
    """The whole card: summary line, per-evaluation tables, training history."""
    t = pkg.training
    history = t.get("history") or []
    best = min(history, key=lambda h: h["dev_eer"]) if history else None
    lines = [
        f"# voxguard model {pkg.version}",
        "",
        f"Objective {t.get('objective')}, front-end {pkg.config.frontend.kind}, pooling {pkg.config.encoder.pooling}, "
        f"comparison {pkg.config.comparison.kind}, window {pkg.config.audio.window_s} s, "
        f"{t.get('n_train_clips')} training clips, {t.get('epochs_run')} epochs, "
        f"{t.get('num_workers')} Ray Train worker(s), "
        f"{t.get('wall_s')} s wall time for decoding and training (evaluation not included)."
        + (f" Weights from epoch {best['epoch']} (best dev-split EER {100 * best['dev_eer']:.2f}%)." if best else ""),
        f"Operating point: threshold {pkg.operating_point.threshold:.4f} on the raw score "
        f"({_how_chosen(pkg)}), abstain band [{pkg.operating_point.abstain_low:.4f}, "
        f"{pkg.operating_point.abstain_high:.4f}).",
        "",
    ]
    for key in ("test", "devset", "dev"):
        if key in pkg.metrics:
            lines.append(format_card_markdown(pkg.metrics[key], _TITLES[key]))
    if history:
        lines += ["## Training history", "", "| Epoch | Loss | Dev EER |", "|---|---|---|"]
        lines += [f"| {h['epoch']} | {h['loss']:.4f} | {100 * h['dev_eer']:.2f}% |" for h in history]
    return "\n".join(lines) + "\n"
