"""Small chart and metrics-card helpers shared by the models and retraining pages."""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd
from scipy.special import ndtri

from siamese import metrics


def cards_of(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Named metrics cards in a model's metrics: {"dev": card, ...}, or the metrics itself if it is one card."""
    if "eer" in metrics:
        return {"metrics": metrics}
    return {name: card for name, card in metrics.items() if isinstance(card, dict) and "eer" in card}


# Okabe-Ito, colour-blind safe; one colour per data set, the same in every curve chart of a model.
DATASET_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
MAX_CURVE_POINTS = 400  # per curve: enough for a smooth line, small enough for the page
# DET axes: probit (normal deviate) of the error rates, labelled in percent; rates are clipped into
# [DET_FLOOR, 1 - DET_FLOOR] (a rate of exactly 0 or 1 is infinitely far on a probit axis).
DET_FLOOR = 5e-4
DET_TICKS = (0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999)


def _colours(names: list[str]) -> alt.Scale:
    return alt.Scale(domain=names, range=[DATASET_COLOURS[i % len(DATASET_COLOURS)] for i in range(len(names))])


def curve_points(cards: dict[str, dict[str, Any]]) -> tuple[pd.DataFrame | None, list[str]]:
    """DET points (far, frr) of every card that recorded score lists, and the names of those that did not.

    Points come from the card's compact score lists (`siamese.metrics.score_lists`) through the
    same `det_curve` the metrics use, thinned to `MAX_CURVE_POINTS` per curve; `eer_far`/`eer_frr`
    mark where each curve is labelled (its EER point).
    """
    parts, missing = [], []
    for name, card in cards.items():
        lists = metrics.lists_of(card)
        if lists is None:
            missing.append(name)
            continue
        frr, far, _ = metrics.det_curve(*lists)
        keep = np.unique(np.round(np.linspace(0, frr.size - 1, min(frr.size, MAX_CURVE_POINTS))).astype(int))
        eer, _ = metrics.eer(*lists)
        n = card["score_lists"].get("n_bonafide", 0) + card["score_lists"].get("n_spoof", 0)
        parts.append(pd.DataFrame({"dataset": name, "far": far[keep], "frr": frr[keep], "eer": eer,
                                   "label": f"{name} (EER {100 * eer:.1f} %, {n:,} trials)"}))
    return (pd.concat(parts, ignore_index=True) if parts else None), missing


def _probit(p: Any) -> np.ndarray:
    return ndtri(np.clip(np.asarray(p, dtype=np.float64), DET_FLOOR, 1.0 - DET_FLOOR))


def _percent(p: float) -> str:
    return f"{100 * p:g}%"


def probit_axis(title: str) -> alt.Axis:
    """An axis in probit units whose ticks read as percentages (Vega-Lite has no probit scale)."""
    values = [float(_probit(p)) for p in DET_TICKS]
    label = " : ".join(f"abs(datum.value - ({v:.6f})) < 1e-4 ? '{_percent(p)}'" for v, p in zip(values, DET_TICKS))
    return alt.Axis(title=title, values=values, labelExpr=f"{label} : ''", grid=True)


def _curve_labels(frame: pd.DataFrame, x: str, y: str) -> alt.LayerChart:
    """Each curve's data set and EER written next to it, at its EER point (stacked when curves cross there)."""
    names = list(dict.fromkeys(frame["dataset"]))
    at_eer = frame.loc[(frame["far"] - frame["frr"]).abs().groupby(frame["dataset"]).idxmin()]
    at_eer = at_eer.assign(text=[f"{n} · EER {100 * e:.1f} %" for n, e in zip(at_eer["dataset"], at_eer["eer"])])
    return alt.layer(*[
        alt.Chart(at_eer[at_eer["dataset"] == name]).mark_text(align="left", dx=10, dy=-10 - 15 * i,
                                                               fontWeight="bold").encode(
            x=f"{x}:Q", y=f"{y}:Q", text="text:N",
            color=alt.Color("dataset:N", scale=_colours(names), legend=None))
        for i, name in enumerate(names)])


def det_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """DET on probit axes (NIST style): false rejection against false acceptance, one curve per data set."""
    names = list(dict.fromkeys(frame["dataset"]))
    df = frame.assign(x=_probit(frame["far"]), y=_probit(frame["frr"]))
    lim = float(_probit(DET_FLOOR))
    domain = alt.Scale(domain=[lim, -lim])
    eer_line = alt.Chart(pd.DataFrame({"x": [lim, -lim], "y": [lim, -lim]})).mark_line(
        strokeDash=[4, 4], color="gray").encode(x=alt.X("x:Q", scale=domain), y=alt.Y("y:Q", scale=domain))
    curves = alt.Chart(df).mark_line().encode(
        x=alt.X("x:Q", scale=domain, axis=probit_axis("false acceptance (spoof accepted), probit")),
        y=alt.Y("y:Q", scale=domain, axis=probit_axis("false rejection (bona fide rejected), probit")),
        color=alt.Color("dataset:N", scale=_colours(names), legend=alt.Legend(orient="top", title=None)),
        order="far:Q",
        tooltip=["label:N", alt.Tooltip("far:Q", format=".2%", title="FAR"),
                 alt.Tooltip("frr:Q", format=".2%", title="FRR")])
    return alt.layer(eer_line, curves, _curve_labels(df, "x", "y")).properties(
        title="DET (dashed: FAR = FRR)", height=320)


def roc_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """ROC: bona fide accepted (1 - FRR) against spoofs accepted (FAR), one curve per data set."""
    names = list(dict.fromkeys(frame["dataset"]))
    df = frame.assign(tpr=1 - frame["frr"])
    unit = alt.Scale(domain=[0, 1])
    diagonal = alt.Chart(pd.DataFrame({"far": [0, 1], "tpr": [0, 1]})).mark_line(
        strokeDash=[4, 4], color="gray").encode(x=alt.X("far:Q", scale=unit), y=alt.Y("tpr:Q", scale=unit))
    curves = alt.Chart(df).mark_line().encode(
        x=alt.X("far:Q", title="false acceptance (spoof accepted)", scale=unit),
        y=alt.Y("tpr:Q", title="bona fide accepted", scale=unit),
        color=alt.Color("dataset:N", scale=_colours(names), legend=alt.Legend(orient="top", title=None)),
        order="far:Q",
        tooltip=["label:N", alt.Tooltip("far:Q", format=".3f"), alt.Tooltip("tpr:Q", format=".3f")])
    return alt.layer(diagonal, curves, _curve_labels(df, "far", "tpr")).properties(
        title="ROC (dashed: chance)", height=320)


def reliability_points(cards: dict[str, dict[str, Any]]) -> tuple[pd.DataFrame | None, list[str]]:
    """Reliability bins of every card that recorded them, and the names of those that did not."""
    rows, missing = [], []
    for name, card in cards.items():
        rel = card.get("reliability")
        if not isinstance(rel, dict) or not rel.get("bins"):
            missing.append(name)
            continue
        for b in rel["bins"]:
            rows.append({"dataset": name, "mean_prob": b["mean_prob"], "observed": b["observed"],
                         "weight": b["weight"], "trials": b["n_bonafide"] + b["n_spoof"],
                         "bin": f"{b['lo']:.1f}–{b['hi']:.1f}", "ece": rel.get("ece")})
    return (pd.DataFrame(rows) if rows else None), missing


def reliability_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Calibration plot: observed bona fide share (prior-weighted) against the mean predicted P, per bin."""
    names = list(dict.fromkeys(frame["dataset"]))
    unit = alt.Scale(domain=[0, 1])
    colour = alt.Color("dataset:N", scale=_colours(names), legend=alt.Legend(orient="top", title=None))
    diagonal = alt.Chart(pd.DataFrame({"mean_prob": [0, 1], "observed": [0, 1]})).mark_line(
        strokeDash=[4, 4], color="gray").encode(x=alt.X("mean_prob:Q", scale=unit), y=alt.Y("observed:Q", scale=unit))
    base = alt.Chart(frame).encode(
        x=alt.X("mean_prob:Q", title="predicted P(bona fide) (bin mean)", scale=unit),
        y=alt.Y("observed:Q", title="observed bona fide share (prior 0.5)", scale=unit), color=colour,
        tooltip=["dataset:N", "bin:N", "trials:Q", alt.Tooltip("mean_prob:Q", format=".3f"),
                 alt.Tooltip("observed:Q", format=".3f"), alt.Tooltip("ece:Q", format=".3f", title="ECE")])
    lines = base.mark_line(opacity=0.6)
    points = base.mark_circle(opacity=0.9).encode(
        size=alt.Size("weight:Q", legend=None, scale=alt.Scale(range=[20, 300])))
    last = frame.loc[frame.groupby("dataset")["mean_prob"].idxmax()]
    labels = alt.Chart(last).mark_text(align="left", dx=8, fontWeight="bold").encode(
        x="mean_prob:Q", y="observed:Q", text="dataset:N", color=alt.Color("dataset:N", scale=_colours(names),
                                                                            legend=None))
    return alt.layer(diagonal, lines, points, labels).properties(title="Calibration (dashed: perfect)", height=320)


def fmt_pct(value: Any) -> str:
    """A rate as a percentage (— when missing)."""
    return "—" if value is None else f"{100 * float(value):.2f}%"


def fmt_num(value: Any) -> str:
    """A number with 4 decimals (— when missing)."""
    return "—" if value is None else f"{float(value):.4f}"


LABEL_COLOURS = {"bonafide": "#009E73", "spoof": "#D55E00", "inconclusive": "#E69F00"}


def score_histogram(frame: pd.DataFrame, threshold: float | None = None) -> alt.LayerChart:
    """Clip scores binned and stacked by the model's label, with the threshold and the abstain band.

    The band is drawn where the job actually abstained (the range of scores labelled
    inconclusive), so it shows the rule as applied to these clips.
    """
    labels = [k for k in LABEL_COLOURS if k in set(frame["label"])] + sorted(
        set(frame["label"].dropna()) - set(LABEL_COLOURS))
    bars = alt.Chart(frame).mark_bar().encode(
        x=alt.X("score:Q", bin=alt.Bin(maxbins=40), title="clip score (higher = more bona fide)"),
        y=alt.Y("count()", title="clips", stack=True),
        color=alt.Color("label:N", scale=alt.Scale(domain=labels,
                                                   range=[LABEL_COLOURS.get(k, "#999999") for k in labels]),
                        legend=alt.Legend(orient="top", title=None)))
    layers: list[alt.Chart] = []
    band = frame.loc[frame["label"] == "inconclusive", "score"]
    if len(band):
        layers.append(alt.Chart(pd.DataFrame({"lo": [band.min()], "hi": [band.max()]})).mark_rect(
            color="#E69F00", opacity=0.15).encode(x="lo:Q", x2="hi:Q",
                                                  tooltip=[alt.Tooltip("lo", title="abstain from", format=".3f"),
                                                           alt.Tooltip("hi", title="to", format=".3f")]))
    layers.append(bars)
    if threshold is not None:
        layers.append(alt.Chart(pd.DataFrame({"t": [threshold]})).mark_rule(color="black", strokeDash=[6, 3],
                                                                            size=2)
                      .encode(x="t:Q", tooltip=[alt.Tooltip("t", title="threshold", format=".3f")]))
    return alt.layer(*layers).properties(height=240)


def group_eer_chart(groups: dict[str, float], overall: float | None = None) -> alt.LayerChart:
    """Per-generator EER as horizontal bars, worst first, with the overall EER as a rule."""
    frame = pd.DataFrame([{"generator": g, "eer": 100 * e} for g, e in groups.items()])
    bars = alt.Chart(frame).mark_bar(color="#D55E00").encode(
        x=alt.X("eer:Q", title="EER %"), y=alt.Y("generator:N", sort="-x", title=None),
        tooltip=["generator", alt.Tooltip("eer", format=".2f", title="EER %")])
    layers: list[alt.Chart] = [bars]
    if overall is not None:
        layers.append(alt.Chart(pd.DataFrame({"eer": [100 * overall]})).mark_rule(color="black", strokeDash=[4, 3])
                      .encode(x="eer:Q", tooltip=[alt.Tooltip("eer", format=".2f", title="overall EER %")]))
    return alt.layer(*layers).properties(height=max(120, 18 * len(frame)))


def training_curves(history: list[dict[str, Any]]) -> alt.HConcatChart:
    """Loss and dev EER per epoch (the package's training history)."""
    frame = pd.DataFrame(history)
    loss = alt.Chart(frame).mark_line(point=True).encode(x=alt.X("epoch:O"), y=alt.Y("loss:Q", title="training loss"))
    charts = [loss.properties(title="loss", height=200, width=300)]
    if "dev_eer" in frame:
        dev = alt.Chart(frame.assign(dev_eer_pct=100 * frame["dev_eer"])).mark_line(point=True, color="#D55E00").encode(
            x=alt.X("epoch:O"), y=alt.Y("dev_eer_pct:Q", title="dev EER %"))
        charts.append(dev.properties(title="dev EER", height=200, width=300))
    return alt.hconcat(*charts)


def gate_of(runs: list[Any], version: str) -> dict[str, Any] | None:
    """The gate decision recorded for `version` as a retraining run's challenger (latest run first)."""
    for run in runs:
        if run.challenger_version == version and run.gate:
            return dict(run.gate)
    return None


def gate_summary(gate: dict[str, Any]) -> str:
    """One line: promoted or not, the EERs compared and the gate's reason."""
    verdict = "**passed** (promote)" if gate.get("promote", gate.get("promoted")) else "**failed** (keep the champion)"
    a, b = gate.get("champion_gate_eer"), gate.get("challenger_gate_eer")
    eers = f" · gate EER {fmt_pct(a)} → {fmt_pct(b)}" if a is not None and b is not None else ""
    reason = gate.get("reason")
    return verdict + eers + (f" · {reason}" if reason else "")


def gate_history(runs: list[Any]) -> alt.Chart | None:
    """Retraining history: champion and challenger gate EER per run, the promoted runs filled."""
    points = []
    for run in runs:
        gate = run.gate or {}
        promoted = bool(gate.get("promote", gate.get("promoted")))
        for who in ("champion", "challenger"):
            value = gate.get(f"{who}_gate_eer")
            if value is not None:
                points.append({"run": f"#{run.id}", "model": who, "EER %": 100 * float(value),
                               "decision": "promoted" if promoted else "kept champion",
                               "reason": gate.get("reason", "")})
    if not points:
        return None
    frame = pd.DataFrame(points)
    return alt.Chart(frame).mark_point(size=120, strokeWidth=2).encode(
        x=alt.X("run:N", sort=None, title="retraining run"), y=alt.Y("EER %:Q"),
        color=alt.Color("model:N", scale=alt.Scale(domain=["champion", "challenger"], range=["#0072B2", "#D55E00"]),
                        legend=alt.Legend(orient="top", title=None)),
        fill=alt.condition("datum.decision == 'promoted'", "model:N", alt.value("white")),
        tooltip=["run", "model", alt.Tooltip("EER %", format=".2f"), "decision", "reason"],
    ).properties(height=220)


def drift_chart(frame: pd.DataFrame) -> alt.Chart:
    """Score drift across jobs: each job's median clip score and flagged share, in start order."""
    base = alt.Chart(frame).encode(x=alt.X("job:N", sort=None, title="scoring job (oldest first)"))
    median = base.mark_line(point=True, color="#0072B2").encode(
        y=alt.Y("median score:Q"), tooltip=["job", alt.Tooltip("median score", format=".3f"),
                                           alt.Tooltip("flagged %", format=".1f")])
    flagged = base.mark_bar(opacity=0.3, color="#D55E00").encode(y=alt.Y("flagged %:Q"))
    return alt.layer(flagged, median).resolve_scale(y="independent").properties(height=200)
