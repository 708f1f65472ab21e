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
