"""Reviewers: agreement per reviewer and per clip, the audit trail, and accounts."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.auth import User
from dashboard.context import db
from dashboard.safe import md
from feedback.audit import list_events
from feedback.export import verdicts_bytes
from feedback.models import ROLES
from feedback.reviewers import add_reviewer, list_reviewers, set_active, set_role
from feedback.stats import (
    CATEGORIES,
    clip_agreement,
    model_confusion,
    overall_agreement,
    pair_agreement,
    reviewer_agreement,
)

user: User = st.session_state["current_user"]
state = st.session_state
st.title("Reviewers")
if done := state.pop("reviewers_done", None):
    st.success(done)

agreement, audit_tab, accounts, export_tab = st.tabs(["Agreement", "Audit trail", "Accounts", "Export"])

with agreement:
    with db() as session:
        per_reviewer = reviewer_agreement(session)
        per_clip = clip_agreement(session)
        overall = overall_agreement(session)
        pairs = pair_agreement(session)
        confusion = model_confusion(session)
    a, b = st.columns([1, 2])
    a.metric("Krippendorff's alpha (all reviewers)", "—" if overall.alpha is None else f"{overall.alpha:.2f}",
             help="chance-corrected agreement over every clip with two or more reviewers (nominal: bona fide, "
                  "spoof, unsure); 1 = perfect, 0 = chance level, below 0 = systematic disagreement. "
                  "Rules of thumb: ≥ 0.8 reliable, 0.67–0.8 tentative.")
    a.caption(f"on {overall.n_items:,} clips reviewed by two or more of {overall.n_reviewers} reviewers")
    with b:
        st.markdown("**Cohen's kappa per reviewer pair** (clips both reviewed)")
        st.dataframe(pd.DataFrame([{"reviewer A": p.reviewer_a, "reviewer B": p.reviewer_b, "clips": p.n_common,
                                    "same verdict": p.observed, "kappa": p.kappa} for p in pairs],
                                  columns=["reviewer A", "reviewer B", "clips", "same verdict", "kappa"]),
                     hide_index=True, width="stretch",
                     column_config={"same verdict": st.column_config.NumberColumn(format="percent"),
                                    "kappa": st.column_config.NumberColumn(format="%.2f")})
    st.markdown("**Model vs reviewers** (decided clips: the model's label against the final verdict)")
    cells = [{"model": m, "final verdict": v, "clips": n} for m, row in confusion.items() for v, n in row.items()]
    if cells:
        frame = pd.DataFrame(cells)
        base = alt.Chart(frame).encode(
            x=alt.X("final verdict:N", sort=list(CATEGORIES), title="final verdict (reviewers)"),
            y=alt.Y("model:N", sort=["bonafide", "spoof", "inconclusive"], title="model label"))
        st.altair_chart((base.mark_rect().encode(color=alt.Color("clips:Q", scale=alt.Scale(scheme="blues"),
                                                                   legend=None))
                         + base.mark_text(fontSize=16).encode(text="clips:Q")).properties(height=200),
                        width="stretch")
    else:
        st.caption("No decided clips yet.")
    st.markdown("**Per reviewer** (each reviewer's latest verdict per clip)")
    st.dataframe(pd.DataFrame([{
        "reviewer": r.reviewer, "clips reviewed": r.n_reviews, "unsure": r.n_unsure,
        "agrees with final": r.agree_with_final, "agrees with model": r.agree_with_model,
    } for r in per_reviewer]), hide_index=True, width="stretch", column_config={
        "agrees with final": st.column_config.NumberColumn(format="percent"),
        "agrees with model": st.column_config.NumberColumn(format="percent")})
    st.markdown("**Per clip**")
    only_split = st.checkbox("Only clips where reviewers disagree", key="rev_only_split")
    clips = [c for c in per_clip if not (only_split and c.unanimous)]
    st.caption(f"{len(clips):,} clips" + (" (showing the first 1,000)" if len(clips) > 1000 else ""))
    st.dataframe(pd.DataFrame([{
        "item": c.item_id, "clip": c.uri, "reviewers": c.n_reviewers,
        "votes": ", ".join(f"{v}: {n}" for v, n in sorted(c.votes.items())), "unanimous": c.unanimous,
        "final": c.final_verdict, "agrees with model": c.agrees_with_model,
    } for c in clips[:1000]], columns=["item", "clip", "reviewers", "votes", "unanimous", "final",
                                       "agrees with model"]), hide_index=True, width="stretch")

with audit_tab:
    c1, c2, c3 = st.columns([1, 1, 1])
    action = c1.text_input("Action", placeholder="e.g. review.verdict, model.promote", key="audit_action")
    actor = c2.text_input("Who", key="audit_actor")
    limit = c3.number_input("Most recent", min_value=10, max_value=10_000, value=200, step=50, key="audit_limit")
    with db() as session:
        events = list_events(session, limit=int(limit), action=action.strip() or None)
    if actor.strip():
        events = [e for e in events if e.actor == actor.strip()]
    st.dataframe(pd.DataFrame([{
        "when": e.created_at.strftime("%Y-%m-%d %H:%M:%S"), "who": e.actor, "action": e.action,
        "details": ", ".join(f"{k}={v}" for k, v in (e.details or {}).items() if v is not None),
    } for e in events], columns=["when", "who", "action", "details"]), hide_index=True, width="stretch")

with accounts:
    with db() as session:
        people = list_reviewers(session)
    st.dataframe(pd.DataFrame([{"username": p.username, "role": p.role, "active": p.active,
                                "since": p.created_at.strftime("%Y-%m-%d")} for p in people]),
                 hide_index=True, width="stretch")
    if user.role == "admin":
        with st.form("add_reviewer", clear_on_submit=True):
            c = st.columns(3)
            name = c[0].text_input("Username")
            password = c[1].text_input("Initial password", type="password")
            role = c[2].selectbox("Role", ROLES)
            add = st.form_submit_button("Add reviewer")
        if add:
            try:
                with db() as session:
                    add_reviewer(session, name.strip(), password, role, actor=user.username)
            except Exception as exc:  # duplicate name (IntegrityError), bad password length...
                st.error(f"Could not add {md(repr(name))}: {exc.__class__.__name__}: {md(str(exc).splitlines()[0])}")
            else:
                state.reviewers_done = f"Added {md(name.strip())} ({role})."
                st.rerun()
        with st.form("set_role"):
            c = st.columns(2)
            who = c[0].selectbox("Reviewer", [p.username for p in people])
            new_role = c[1].selectbox("New role", ROLES)
            change = st.form_submit_button("Change role")
        if change:
            with db() as session:
                set_role(session, who, new_role, actor=user.username)
            state.reviewers_done = f"{md(who)} is now {new_role}."
            st.rerun()
        with st.form("set_active"):
            c = st.columns(2)
            who = c[0].selectbox("Reviewer", [p.username for p in people if p.username != user.username],
                                 key="active_who")
            enable = c[1].radio("Account", ["disable", "enable"], horizontal=True, key="active_action") == "enable"
            apply = st.form_submit_button("Apply")
        if apply and who:
            with db() as session:
                set_active(session, who, enable, actor=user.username)
            state.reviewers_done = f"{md(who)} is {'enabled' if enable else 'disabled'}."
            st.rerun()
    else:
        st.caption("Only admins can add reviewers, change roles or disable accounts.")

with export_tab:
    st.markdown("Every verdict with its reviewer, time, note, clip, model version, the model's output and the "
                "item's final verdict. Same as `voxguard review export FILE`.")
    if user.can_manage:
        fmt = st.radio("Format", ["csv", "parquet"], horizontal=True, key="export_format")

        def _export() -> bytes:
            # Built when the button is pressed (not on every page load), and audited as review.export.
            with db() as session:
                return verdicts_bytes(session, fmt, actor=user.username)

        st.download_button(f"Download verdicts ({fmt.upper()})", data=_export, file_name=f"verdicts.{fmt}",
                           mime="text/csv" if fmt == "csv" else "application/vnd.apache.parquet",
                           key="export_download", type="primary", icon=":material/download:")
    else:
        st.caption("Only leads and admins can export the verdicts.")
