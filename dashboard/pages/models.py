"""Models: versions and their metrics, which one is in production, promote / roll back (confirmed)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.auth import User
from dashboard.context import db
from dashboard.safe import md
from feedback.registry import list_versions, production, promote, rollback
from feedback.runs import list_runs

user: User = st.session_state["current_user"]
state = st.session_state
st.title("Models")

if done := state.pop("models_done", None):
    st.success(done)

with db() as session:
    versions = list_versions(session)
    prod = production(session)
    runs = list_runs(session, limit=200)
if not versions:
    st.info("No model versions registered yet (a retraining run registers its challenger; the first one also registers the bundled model).")
    st.stop()

st.markdown(f"In production: **{prod.version}**" if prod else "No model is in production.")
# Every EER is shown with the data set it was measured on (dev, test, devset...): models' first cards
# are not comparable (one model's "dev" is another's cross-corpus devset).
datasets = list(dict.fromkeys(name for v in versions for name in charts.cards_of(v.metrics)))
rows = []
for v in versions:
    cards = charts.cards_of(v.metrics)
    rows.append({
        " ": "★" if v.status == "production" else "", "version": v.version, "status": v.status,
        **{f"EER % · {d}": None if cards.get(d, {}).get("eer") is None else 100 * cards[d]["eer"] for d in datasets},
        **{f"minDCF · {d}": cards.get(d, {}).get("min_dcf") for d in datasets},
        "threshold": v.threshold, "parent": v.parent, "created": v.created_at.strftime("%Y-%m-%d %H:%M"),
        "promoted": v.promoted_at.strftime("%Y-%m-%d %H:%M") if v.promoted_at else "",
    })
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
    **{f"EER % · {d}": st.column_config.NumberColumn(format="%.2f") for d in datasets},
    **{f"minDCF · {d}": st.column_config.NumberColumn(format="%.4f") for d in datasets}})

names = [v.version for v in versions]
chosen = st.selectbox("Version", names, index=names.index(prod.version) if prod else 0, key="models_version")
mv = next(v for v in versions if v.version == chosen)
st.caption(f"`{mv.artefact_uri}` · status **{mv.status}** · parent {mv.parent or '—'}")

# --- promote / roll back, each behind an explicit confirmation --------------------------
if user.can_manage:
    a, b, _ = st.columns([1, 1, 3])
    if a.button(f"Promote {chosen}", disabled=mv.status == "production", key="models_promote"):
        state.models_confirm = ("promote", chosen)
    if b.button("Roll back production", disabled=prod is None, key="models_rollback"):
        state.models_confirm = ("rollback", prod.version if prod else None)
    pending = state.get("models_confirm")
    if pending:
        action, version = pending
        if action == "promote":
            st.warning(f"Promote **{version}** to production? It replaces **{prod.version if prod else 'nothing'}** "
                       "for every new scoring job.")
            gate = charts.gate_of(runs, version)
            st.markdown("**The gate's decision** on this version: " + (charts.gate_summary(gate) if gate else
                        "none recorded (it did not come from a retraining run): promoting skips the gate."))
        else:
            st.warning(f"Roll back from **{version}** to the model that was in production before it?")
        c1, c2, _ = st.columns([1, 1, 3])
        if c1.button("Confirm", type="primary", key="models_confirm_yes"):
            state.models_confirm = None
            try:
                with db() as session:
                    if action == "promote":
                        promote(session, version, actor=user.username)
                        state.models_done = f"{version} is now in production."
                    else:
                        back = rollback(session, actor=user.username)
                        state.models_done = f"Rolled back: {back.version} is in production again."
            except (LookupError, RuntimeError) as exc:
                state.models_done = None
                st.error(str(exc))
            else:
                st.rerun()
        if c2.button("Cancel", key="models_confirm_no"):
            state.models_confirm = None
            st.rerun()
else:
    st.caption("Only leads and admins can promote or roll back models.")

# --- metrics cards -----------------------------------------------------------------------
cards = charts.cards_of(mv.metrics)
if not cards:
    st.info("This version has no metrics card.")
else:
    # Pictures first: curves of every data set of this model in one chart each, named beside the curve.
    st.subheader("DET and ROC")
    curves, no_lists = charts.curve_points(cards)
    if curves is None:
        st.info("DET/ROC: score lists not recorded for this model (its metrics cards predate them).")
    else:
        left, right = st.columns(2)
        left.altair_chart(charts.det_chart(curves), width="stretch", height=420)
        right.altair_chart(charts.roc_chart(curves), width="stretch", height=420)
        st.caption("From each card's recorded scores (up to 2,000 per class, quantiles beyond)."
                   + (md(f" Not recorded for this model: {', '.join(no_lists)}.") if no_lists else ""))
    st.subheader("Calibration")
    bins, no_bins = charts.reliability_points(cards)
    if bins is None:
        st.info("Calibration plot: reliability bins not recorded for this model.")
    else:
        left, right = st.columns(2)
        left.altair_chart(charts.reliability_chart(bins), width="stretch", height=400)
        ece = bins.drop_duplicates("dataset").set_index("dataset")["ece"]
        right.markdown("Predicted P(bona fide) against how often trials in that bin were bona fide, with each "
                       "class weighted to the prior scoring uses (0.5), so the set's class mix does not tilt it. "
                       "On the diagonal the probabilities mean what they say; dot size is the bin's share of trials.")
        right.markdown("Expected calibration error: " + ", ".join(
            f"**{charts.fmt_num(v)}** on {md(name)}" for name, v in ece.items()))
        if no_bins:
            right.caption(md(f"Not recorded for this model: {', '.join(no_bins)}."))
for name, card in cards.items():
    st.subheader(f"Metrics — {name}")
    m = st.columns(4)
    interval = card.get("eer_ci95")
    m[0].metric("EER", charts.fmt_pct(card.get("eer")),
                help=f"95 % bootstrap interval {charts.fmt_pct(interval[0])} – {charts.fmt_pct(interval[1])}"
                if interval else None)
    m[1].metric("minDCF", charts.fmt_num(card.get("min_dcf")))
    m[2].metric("actDCF", charts.fmt_num(card.get("act_dcf")))
    m[3].metric("ROC AUC", charts.fmt_num(card.get("roc_auc")))
    st.caption(f"{card.get('n_bonafide', 0):,} bona fide and {card.get('n_spoof', 0):,} spoof trials"
               + (f" · Cllr {card['cllr']:.3f} bits" if card.get("cllr") is not None else ""))
    groups = card.get("per_group_eer")
    if groups:
        st.markdown(f"**EER per generator** on {name} (each against all bona fide trials)")
        st.altair_chart(charts.group_eer_chart(groups, card.get("eer")), width="stretch")

history = mv.metrics.get("training_history") if isinstance(mv.metrics, dict) else None
if history:
    st.subheader("Training curves")
    st.altair_chart(charts.training_curves(history), width="stretch")
