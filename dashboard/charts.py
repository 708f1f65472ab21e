"""Small chart and metrics-card helpers shared by the models and retraining pages."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd


def cards_of(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Named metrics cards in a model's metrics: {"dev": card, ...}, or the metrics itself if it is one card."""
    if "eer" in metrics:
        return {"metrics": metrics}
    return {name: card for name, card in metrics.items() if isinstance(card, dict) and "eer" in card}


def curve_points(card: dict[str, Any]) -> pd.DataFrame | None:
    """(far, frr) operating points: explicit `det` points when the card has them, else its threshold sweep."""
    det = card.get("det")
    if isinstance(det, dict) and det.get("far") and det.get("frr"):
        return pd.DataFrame({"far": det["far"], "frr": det["frr"]})
    sweep = card.get("threshold_sweep")
    if sweep:
        return pd.DataFrame([{"far": r["far"], "frr": r["frr"]} for r in sweep])
    return None


def roc_chart(points: pd.DataFrame) -> alt.Chart:
    """ROC: true bona fide acceptance (1 - FRR) against false acceptance of spoofs (FAR)."""
    df = points.assign(tpr=1 - points["frr"]).sort_values("far")
    diagonal = alt.Chart(pd.DataFrame({"x": [0, 1], "y": [0, 1]})).mark_line(strokeDash=[4, 4], color="gray")
    curve = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("far:Q", title="false acceptance (spoof accepted)", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("tpr:Q", title="bona fide accepted", scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip("far", format=".3f"), alt.Tooltip("tpr", format=".3f")])
    return (diagonal.encode(x="x:Q", y="y:Q") + curve).properties(title="ROC", height=280)


def det_chart(points: pd.DataFrame, floor: float = 1e-3) -> alt.Chart:
    """DET: miss (FRR) against false alarm (FAR), log-log so the low-error corner is readable."""
    df = points.clip(lower=floor).sort_values("far")
    log = alt.Scale(type="log", domain=[floor, 1])
    return alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("far:Q", title="false acceptance (log)", scale=log),
        y=alt.Y("frr:Q", title="false rejection (log)", scale=log),
        tooltip=[alt.Tooltip("far", format=".4f"), alt.Tooltip("frr", format=".4f")],
    ).properties(title="DET", height=280)


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
