"""Retraining: the policy (N mismatches, T days), feedback since the last run, run history, retrain now."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.auth import User
from dashboard.context import db
from dashboard.safe import md
from feedback.policy import RETRY_RULE, get_policy, request_retrain, should_retrain, update_policy
from feedback.queue.inputs import mismatches
from feedback.runs import list_runs

user: User = st.session_state["current_user"]
state = st.session_state
st.title("Retraining")
if done := state.pop("retrain_done", None):
    st.success(done)

with db() as session:
    policy = get_policy(session)
    decision = should_retrain(session)
    since_raw = decision.counts.get("since")
    recent = mismatches(session, since=pd.Timestamp(since_raw).to_pydatetime() if since_raw else None)
    runs = list_runs(session, limit=50)

# --- policy -----------------------------------------------------------------------------
st.subheader("Policy")
with st.form("policy"):
    c = st.columns(4)
    ro = not user.can_manage
    n = c[0].number_input("Mismatches to trigger (N)", min_value=1, value=int(policy.min_mismatches), step=1,
                          disabled=ro)
    t = c[1].number_input("Max days between runs (T)", min_value=0.1, value=float(policy.max_age_days), step=1.0,
                          disabled=ro)
    agree = c[2].number_input("Reviewers who must agree", min_value=1, value=int(policy.required_agreement),
                              step=1, help="without a lead's verdict; 1 = a single verdict decides", disabled=ro)
    enabled = c[3].toggle("Automatic retraining", value=bool(policy.enabled), disabled=ro)
    saved = st.form_submit_button("Save policy", disabled=not user.can_manage)
st.caption(f"Last changed {policy.updated_at:%Y-%m-%d %H:%M} UTC by {md(policy.updated_by or '—')}"
           + ("" if user.can_manage else " · only leads and admins can change it"))
if saved and user.can_manage:
    try:
        with db() as session:
            update_policy(session, min_mismatches=int(n), max_age_days=float(t), enabled=bool(enabled),
                          required_agreement=int(agree), actor=user.username)
    except ValueError as exc:
        st.error(str(exc))
    else:
        state.retrain_done = "Policy saved."
        st.rerun()

# --- feedback since the last run ----------------------------------------------------------
st.subheader("Feedback since the last run")
counts = decision.counts
m = st.columns(3)
m[0].metric("New mismatches", f"{counts.get('new_mismatches', len(recent))} / {policy.min_mismatches}")
m[1].metric("New verdicts", counts.get("new_feedback", "—"))
m[2].metric("Since", (since_raw or "never")[:16].replace("T", " "))
st.progress(min(1.0, len(recent) / max(policy.min_mismatches, 1)),
            text=f"Scheduler says: {decision.reason}" + (f" → **{decision.trigger}** retraining due"
                                                         if decision.trigger else ""))
if recent:
    st.dataframe(pd.DataFrame([{"clip": x.uri, "model said": x.model_label, "reviewers said": x.final_verdict,
                                "model": x.model_version, "decided": x.decided_at.strftime("%Y-%m-%d %H:%M")}
                               for x in recent[-500:]]), hide_index=True, width="stretch")

# --- retrain now ----------------------------------------------------------------------------
if user.can_manage:
    with st.form("retrain_now"):
        reason = st.text_input("Reason", placeholder="e.g. new generator in the wild")
        go = st.form_submit_button("Retrain now", type="primary")
    if go:
        with db() as session:
            run = request_retrain(session, user.username, reason.strip() or None)
        state.retrain_done = f"Retraining requested (run #{run.id}); the scheduler starts it at its next tick."
        st.rerun()

# --- history ----------------------------------------------------------------------------------
st.subheader("Run history")
if runs and runs[0].status == "failed":
    st.error(f"Run #{runs[0].id} failed: {md(runs[0].error or 'unknown error')}")
    st.caption(md(RETRY_RULE.capitalize() + "."))
if not runs:
    st.info("No retraining runs yet.")
else:
    def _eer(metrics: dict) -> str:
        card = next(iter(charts.cards_of(metrics or {}).values()), None)
        return charts.fmt_pct(card.get("eer")) if card else "—"

    def _gate(gate: dict) -> str:
        # feedback.gate.GateDecision.to_dict(): "promote" is the decision.
        if not gate:
            return ""
        return "promoted" if gate.get("promote", gate.get("promoted")) else "kept champion"

    def _pair(gate: dict, key: str, fmt) -> str:  # noqa: ANN001 - formatter callable
        a, b = (gate or {}).get(f"champion_{key}"), (gate or {}).get(f"challenger_{key}")
        return "" if a is None or b is None else f"{fmt(a)} → {fmt(b)}"

    st.dataframe(pd.DataFrame([{
        "run": r.id, "trigger": r.trigger, "status": r.status, "requested by": r.requested_by,
        "created": r.created_at.strftime("%Y-%m-%d %H:%M"),
        "finished": r.finished_at.strftime("%Y-%m-%d %H:%M") if r.finished_at else "",
        "champion": r.champion_version, "challenger": r.challenger_version, "challenger EER": _eer(r.metrics),
        "gate": _gate(r.gate), "gate EER champion → challenger": _pair(r.gate, "gate_eer", charts.fmt_pct),
        "held-back correct": _pair(r.gate, "heldback_correct", str),
        "gate reason": (r.gate or {}).get("reason", ""), "error": r.error or "",
    } for r in runs]), hide_index=True, width="stretch")
    history = charts.gate_history(runs)
    if history is not None:
        st.markdown("**Champion vs challenger per run** (EER on the gate set; filled = promoted)")
        st.altair_chart(history, width="stretch")
