"""voxguard review dashboard: `voxguard dashboard` runs `streamlit run dashboard/app.py`.

Anonymous visitors only get the sign-in page; signed-in reviewers get the
review queue, jobs, models, retraining and reviewers pages.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import auth
from dashboard.safe import md

# An emoji favicon is drawn in the page (a data: URL); a ":material/...:" one is fetched from
# fonts.gstatic.com by every reviewer's browser, which an offline deployment cannot reach.
st.set_page_config(page_title="voxguard review", page_icon="🎙️", layout="wide")

user = auth.current_user()
if user is None:
    st.navigation([st.Page(auth.sign_in_page, title="Sign in", url_path="sign-in")], position="hidden").run()
    st.stop()

st.session_state["current_user"] = user  # pages read it from here
auth.persist_session()
with st.sidebar:
    st.caption(f"Signed in as **{md(user.username)}** ({md(user.role)})")
    if st.button("Sign out", key="sign_out"):
        auth.sign_out(user)

PAGES = Path(__file__).resolve().parent / "pages"
st.navigation([
    st.Page(PAGES / "queue.py", title="Review queue", icon=":material/fact_check:", default=True),
    st.Page(PAGES / "jobs.py", title="Jobs", icon=":material/work:"),
    st.Page(PAGES / "models.py", title="Models", icon=":material/model_training:"),
    st.Page(PAGES / "retraining.py", title="Retraining", icon=":material/autorenew:"),
    st.Page(PAGES / "reviewers.py", title="Reviewers", icon=":material/group:"),
]).run()
