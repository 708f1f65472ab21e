"""Jobs: submit a scoring job, follow running and finished jobs, open a job's results."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import charts, launcher
from dashboard.auth import User
from dashboard.context import db, db_url, sessions, settings
from dashboard.safe import md
from feedback.audit import audit
from feedback.queue.bulk import DEFAULT_MIN_CONFIDENCE, bulk_confirm_spoofs, confident_spoofs
from feedback.queue.jobs import job_score_labels, job_score_medians, job_scores, list_jobs
from feedback.registry import list_versions, production
from voxguard.errors import VoxguardError
from voxguard.roots import AccessDenied
from voxguard.storage import filesystem
from voxguard.storage.parts import list_parts, read_parts

RESULT_COLUMNS = ["uri", "label", "score", "prob_bonafide", "confidence", "flagged", "duration_s", "error"]
PAGE_ROWS = 100

user: User = st.session_state["current_user"]
state = st.session_state
cfg = settings()
st.title("Jobs")


@st.cache_data(ttl=15, show_spinner=False)
def _parquet_results(dest: str) -> pd.DataFrame | None:
    """The job's Parquet output (local or S3, read server-side), or None when there is none (yet)."""
    try:
        fs, path = filesystem(dest, cfg.storage_options)
        parts = list_parts(fs, path)
        if not parts:
            return None
        table = read_parts(fs, parts)
    except Exception:  # unreachable bucket, unreadable part: fall back to the database
        return None
    df = table.to_pandas()
    return df[[c for c in RESULT_COLUMNS if c in df.columns]]


# --- submit -----------------------------------------------------------------------------
with db() as session:
    versions = list_versions(session)
    prod = production(session)
models = {f"{v.version} ({v.status})": v.artefact_uri for v in versions}
models.setdefault(f"default package ({cfg.model_path.name})", str(cfg.model_path))
default_model = next((k for k in models if prod and k.startswith(prod.version + " ")), next(iter(models)))
address = launcher.cluster_address(cfg.ray_address, cfg.data_dir)

if not user.can_run_jobs:
    st.caption("Only operators and admins can submit scoring jobs.")
else:
    with st.expander("Submit a scoring job", expanded=False, icon=":material/play_arrow:"):
        if state.pop("jobs_reset_id", False) or "jobs_new_id" not in state:
            # A fresh id per submission, fixed while the form is filled in (a changing default resets the widget).
            state.jobs_new_id = f"job-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}"
        with st.form("submit_job", clear_on_submit=False):
            source = st.text_input("Source", placeholder="/archive/2026-11 or s3://bucket/prefix or manifest.csv",
                                   key="jobs_source")
            job_id = st.text_input("Job id", key="jobs_new_id")
            dest = st.text_input("Destination", placeholder=str(cfg.data_dir / "results" / "<job id>"),
                                 key="jobs_dest",
                                 help="folder or s3://bucket/prefix for the Parquet parts (default: under the data dir)")
            model_key = st.selectbox("Model", list(models), index=list(models).index(default_model), key="jobs_model")
            st.caption(f"Runs on the Ray cluster at {address}" if address else
                       "Runs as a background process on the dashboard's machine (set VOXGUARD_RAY_ADDRESS "
                       "to the cluster's address to submit to it, as `voxguard submit` does).")
            go = st.form_submit_button("Submit", type="primary")
        if go:
            try:
                launch = launcher.launch_scoring(
                    source.strip(), dest.strip() or str(cfg.data_dir / "results" / job_id.strip()), models[model_key],
                    job_id.strip(), db_url=db_url(), sessions=sessions(), data_dir=cfg.data_dir, actor=user.username,
                    address=address, source_roots=cfg.allowed_source_roots(), output_roots=cfg.allowed_output_roots())
            except (VoxguardError, AccessDenied) as exc:  # the user's mistake: say it, in their words
                st.error(md(exc))
            except Exception as exc:  # cluster refused, binary missing...: show it, keep the page alive
                st.error(f"Could not start the job: {type(exc).__name__}: {md(exc)}")
            else:
                with db() as session:
                    audit(session, user.username, "job.submit", job_id=launch.job_id, source=launch.source,
                          dest=launch.dest, model=launch.model, how=launch.how)
                state.jobs_reset_id = True
                st.success(f"Started job **{launch.job_id}** ({launch.how}).")

# --- launched from here ---------------------------------------------------------------
launches = launcher.list_launches(cfg.data_dir)
if launches:
    st.subheader("Started from the dashboard")
    for launch in launches[:20]:
        state = launcher.state_of(launch, cfg.data_dir)
        log = launcher.log_tail(launch)
        prog = launcher.progress_of(log)
        label = f"{md(launch.job_id)} — {state} — by {md(launch.launched_by)} at {launch.launched_at}"
        with st.expander(label, expanded=state == "running"):
            if prog:
                st.progress(prog[0] / max(prog[1], 1), text=f"{prog[0]:,} / {prog[1]:,} clips")
            st.caption(f"{md(launch.source)} → {md(launch.dest)} · model {md(launch.model)}")
            st.code(log or "(no output yet)", language=None)

# --- all jobs -------------------------------------------------------------------------
st.subheader("Scoring jobs")
with db() as session:
    jobs = list_jobs(session)
known = {j.job_id for j in jobs}
rows = [{
    "job": j.job_id, "status": j.status, "model": j.model_version, "clips": j.n_total, "flagged": j.n_flagged,
    "errors": j.n_errors, "flagged %": 100 * j.n_flagged / j.n_total if j.n_total else 0.0,
    "started": j.started_at.strftime("%Y-%m-%d %H:%M"),
    "finished": j.finished_at.strftime("%Y-%m-%d %H:%M") if j.finished_at else "",
    "source": j.source, "destination": j.dest,
} for j in jobs]
rows += [{"job": la.job_id, "status": launcher.state_of(la, cfg.data_dir), "model": la.model,
          "started": la.launched_at[:16].replace("T", " "), "source": la.source, "destination": la.dest}
         for la in launches if la.job_id not in known]
if not rows:
    st.info("No scoring jobs yet.")
    st.stop()
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
             column_config={"flagged %": st.column_config.NumberColumn(format="%.1f")})
recent = [j for j in reversed(jobs[:30]) if j.n_total]
if len(recent) >= 2:
    with db() as session:
        medians = job_score_medians(session, [j.job_id for j in recent])
    st.markdown("**Score drift across jobs** (median clip score, line; flagged share, bars)")
    st.altair_chart(charts.drift_chart(pd.DataFrame([
        {"job": j.job_id, "median score": medians.get(j.job_id), "flagged %": 100 * j.n_flagged / j.n_total}
        for j in recent])), width="stretch")

# --- one job's results -----------------------------------------------------------------
st.subheader("Results")
dests = {r["job"]: r.get("destination") for r in rows}
chosen = st.selectbox("Job", list(dests), key="jobs_selected")
parquet = _parquet_results(dests[chosen]) if dests.get(chosen) else None
if parquet is not None:
    origin, df_all = f"Parquet output at {md(dests[chosen])}", parquet
    scored = df_all.dropna(subset=["score"])
    labelled = pd.DataFrame({"score": scored["score"], "label": scored.get("label", "—")})
    n_rows = len(df_all)
else:
    origin, df_all = "feedback database", None
    with db() as session:
        labelled = pd.DataFrame(job_score_labels(session, chosen), columns=["score", "label"])
    n_rows = next((r.get("clips") or 0 for r in rows if r["job"] == chosen), 0)
st.caption(f"From the {origin} · {n_rows:,} clips")
if not n_rows:
    st.info("No results for this job yet.")
    st.stop()

job_model = next((r.get("model") for r in rows if r["job"] == chosen), None)
threshold = next((v.threshold for v in versions if v.version == job_model), None)
st.altair_chart(charts.score_histogram(labelled, threshold), width="stretch")
mix = labelled["label"].fillna("—").value_counts()
st.caption("Labels: " + " · ".join(f"{md(k)} {n:,} ({100 * n / max(len(labelled), 1):.0f} %)" for k, n in mix.items())
           + ("" if threshold is not None else " · threshold unknown (model not in the registry)"))

# --- bulk confirmation of the job's confident spoofs (leads and admins) ------------------
if user.can_manage:
    with st.expander("Confirm this job's confident spoofs in bulk", icon=":material/done_all:"):
        floor = st.slider("Model confidence at least", 0.80, 1.0, DEFAULT_MIN_CONFIDENCE, 0.01, key="bulk_floor")
        with db() as session:
            preview = confident_spoofs(session, chosen, user.username, floor)
        st.write(f"{len(preview):,} open clip(s) of this job the model calls spoof with confidence ≥ {floor:.2f}.")
        if st.button(f"Confirm {len(preview):,} as spoof…", key="bulk_start", disabled=not preview):
            st.session_state.bulk_pending = (chosen, floor, tuple(preview))
        pending = st.session_state.get("bulk_pending")
        if pending and pending[0] == chosen:
            st.warning(f"Record a **spoof** verdict by you on {len(pending[2]):,} clip(s)? As a {user.role} your "
                       "verdict decides them; each verdict and the bulk action are audited.")
            c1, c2, _ = st.columns([1, 1, 3])
            if c1.button("Confirm", type="primary", key="bulk_confirm"):
                with db() as session:
                    done = bulk_confirm_spoofs(session, chosen, list(pending[2]), user.username, pending[1])
                st.session_state.bulk_pending = None
                st.session_state.bulk_done = (f"Confirmed {done.confirmed:,} clip(s) as spoof"
                                              + (f"; {done.skipped} had changed and were left" if done.skipped else ""))
                st.rerun()
            if c2.button("Cancel", key="bulk_cancel"):
                st.session_state.bulk_pending = None
                st.rerun()
        if done_msg := st.session_state.pop("bulk_done", None):
            st.success(done_msg)

pages = max(1, -(-n_rows // PAGE_ROWS))
page_no = st.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, value=1, key="jobs_page")
if df_all is not None:
    table = df_all.iloc[(page_no - 1) * PAGE_ROWS: page_no * PAGE_ROWS]
else:
    with db() as session:
        table = pd.DataFrame([{"uri": uri, "label": s.label, "score": s.score, "prob_bonafide": s.prob_bonafide,
                               "confidence": s.confidence, "flagged": s.flagged, "error": s.error}
                              for s, uri in job_scores(session, chosen, PAGE_ROWS, (page_no - 1) * PAGE_ROWS)])
st.dataframe(table, hide_index=True, width="stretch")


def _csv() -> bytes:
    # Built only when the button is pressed: a 100k-clip job is never serialised on page load.
    if df_all is not None:
        return df_all.to_csv(index=False).encode()
    with db() as session:
        data = [{"uri": uri, "label": s.label, "score": s.score, "prob_bonafide": s.prob_bonafide,
                 "confidence": s.confidence, "flagged": s.flagged, "error": s.error}
                for s, uri in job_scores(session, chosen, limit=n_rows + 1, offset=0)]
    return pd.DataFrame(data).to_csv(index=False).encode()


st.download_button("Download results (CSV)", data=_csv, file_name=f"{chosen}.csv", mime="text/csv",
                   key="jobs_download")
