"""Review queue: flagged and uncertain clips first; listen, look, give a verdict, move on."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

from dashboard import audio, evidence, waveform
from dashboard.auth import User
from dashboard.context import db, db_url, settings
from dashboard.safe import md
from feedback.models import VERDICTS, Clip
from feedback.queue import assign
from feedback.queue.listing import (
    QueueFilter,
    QueueRow,
    item_reviews,
    item_score,
    list_queue,
    queue_counts,
    queue_facets,
)
from feedback.queue.verdicts import record_verdict, undo_verdict
from feedback.registry import get_version

ANY = "(any)"
# Streamlit has no key binding for st.audio: a zero-height component (same origin as the page)
# adds one keydown handler to the page, once per browser tab.
PLAY_PAUSE_KEY = """<script>
const w = window.parent;
if (!w.__voxguardPlayKey) {
  w.__voxguardPlayKey = true;
  w.document.addEventListener("keydown", (e) => {
    if (!(e.altKey && e.code === "KeyK")) return;
    const a = w.document.querySelector("audio");
    if (!a) return;
    e.preventDefault();
    if (a.paused) { a.play(); } else { a.pause(); }
  });
}
</script>"""
VERDICT_BUTTONS = (("bonafide", "Bona fide", "Alt+B"), ("spoof", "Spoof", "Alt+S"), ("unsure", "Unsure", "Alt+U"))
VERDICT_ICONS = {"bonafide": ":material/record_voice_over:", "spoof": ":material/dangerous:",
                 "unsure": ":material/help:"}
assert {v for v, _, _ in VERDICT_BUTTONS} == set(VERDICTS)

user: User = st.session_state["current_user"]
state = st.session_state
cfg = settings()
blind = cfg.review_blind  # model output and others' verdicts hidden until this reviewer has voted


@st.cache_data(ttl=30, show_spinner=False)
def _facets(url: str) -> dict[str, list[str]]:
    with db() as session:
        f = queue_facets(session)
    return {"job": f.job_ids, "model": f.model_versions, "label": f.labels, "source": f.sources}


@st.cache_data(ttl=30, max_entries=64, show_spinner=False)
def _matching(url: str, filters: QueueFilter) -> int:
    # The exact count is the one costly part of a filtered page at 100k clips (a scan, not a page):
    # computed once per filter and reused for 30 s while the reviewer pages and gives verdicts.
    with db() as session:
        return list_queue(session, filters, page_size=1, with_total=True).total or 0


@st.cache_data(max_entries=16, show_spinner=False)
def _audio_bytes(uri: str) -> bytes:
    # Cached per server: re-renders (verdict clicks, segment picks) do not re-download.
    return audio.fetch_audio(uri, cfg.allowed_source_roots(), cfg.storage_options, cfg.max_file_bytes)


@st.cache_data(max_entries=32, show_spinner=False)
def _spectrogram(uri: str) -> audio.Spectrogram:
    return audio.spectrogram(_audio_bytes(uri))


@st.cache_data(max_entries=32, show_spinner=False)
def _picture(uri: str) -> dict:
    """Peaks and spectrogram bytes for the waveform view (what it draws of the clip, not the audio)."""
    return waveform.clip_picture(_audio_bytes(uri))


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def _operating_lines(url: str, version: str | None) -> dict[str, float] | None:
    """The clip's model's threshold and abstain band in P(bona fide) (None when unknown)."""
    with db() as session:
        mv = get_version(session, version) if version else None
        metrics, uri = (dict(mv.metrics or {}), mv.artefact_uri) if mv else ({}, "")
    lines = evidence.operating_lines(metrics)
    if lines is None and uri and Path(uri).is_file():
        # Registered before the decision rule was kept in the registry: read it from the package once.
        from siamese.calibration import decision_rule
        from siamese.package import ModelPackage

        pkg = ModelPackage.load(uri)
        lines = evidence.operating_lines({"operating_point": decision_rule(pkg.calibration, pkg.operating_point)})
    return lines


# --- filters and paging -------------------------------------------------------------
st.title("Review queue")
facets = _facets(db_url())
cols = st.columns([1, 1.4, 1.2, 1, 1.2, 1, 0.8])
status = cols[0].selectbox("Status", ["open", "decided", "all"], key="q_status")
job = cols[1].selectbox("Job", [ANY, *facets["job"]], key="q_job")
model = cols[2].selectbox("Model version", [ANY, *facets["model"]], key="q_model")
# Filtering by the model's label would tell a blind reviewer what the model said.
label = ANY if blind else cols[3].selectbox("Model label", [ANY, *facets["label"]], key="q_label")
source = cols[4].selectbox("Source", [ANY, *facets["source"]], key="q_source")
sort = cols[5].selectbox("Sort", ["priority", "newest", "oldest"], key="q_sort",
                         help="priority: flagged first, then the least confident")
page_size = cols[6].selectbox("Per page", [25, 50, 100], key="q_page_size")
cols = st.columns([2.2, 1, 1, 2.6] if cfg.review_assign else [2.2, 1, 1, 2.6])
name = cols[0].text_input("Name contains", key="q_name", placeholder="part of the file name or path")
score_min = None if blind else cols[1].number_input("Score ≥", value=None, step=0.05, key="q_score_min")
score_max = None if blind else cols[2].number_input("Score ≤", value=None, step=0.05, key="q_score_max")
# Task distribution: each reviewer gets their own clips, as many reviewers per clip as the rule needs.
mine = cfg.review_assign and cols[3].toggle(
    "My assigned clips", value=True, key="q_mine",
    help="On: clips handed to you (nobody else gets them while you hold them). Off: browse the whole queue.")


def _opt(value: str) -> str | None:
    return None if value == ANY else value


filters = QueueFilter(status=None if status == "all" else status, job_id=_opt(job), model_version=_opt(model),
                      model_label=_opt(label), source=_opt(source), name=name.strip() or None,
                      score_min=score_min, score_max=score_max)
signature = (filters, sort, page_size, mine)
if state.get("q_signature") != signature:  # new filters: back to the first page
    state.q_signature, state.q_cursors, state.q_page, state.q_current = signature, [None], 0, None
skipped = state.setdefault("q_skipped", set())

with db() as session:
    if mine:
        # The clip on screen is claimed for this reviewer; the list shows what they could get next.
        current = state.q_current if state.q_current in assign.my_claims(session, user.username) else None
        current = current or assign.claim_next(session, user.username, filters, exclude=skipped)
        mine_ids = assign.available_items(session, user.username, filters, limit=page_size, exclude=skipped)
        state.q_current = current
        page = list_queue(session, QueueFilter(status="open", item_ids=tuple(mine_ids)), sort,
                          page_size=page_size, with_total=False)
    else:
        page = list_queue(session, filters, sort, page=state.q_page + 1, page_size=page_size,
                          cursor=state.q_cursors[state.q_page], with_total=False)
    counts = queue_counts(session)
total = len(page.rows) if mine else _matching(db_url(), filters)
rows = page.rows
ids = [r.item_id for r in rows]
if state.q_current not in ids:
    state.q_current = ids[0] if ids else None

# Progress of the whole queue, and of this reviewer's session.
n_open, n_decided = counts.get("open", 0), counts.get("decided", 0)
done = n_decided / (n_open + n_decided) if n_open + n_decided else 1.0
st.progress(done, text=f"{n_decided:,} decided, {n_open:,} open "
                       f"({total:,} match the filters) · {state.get('q_given', 0)} verdicts by you this session")


def _go(step: int) -> None:
    """Previous/next item, crossing page boundaries (keyset cursors make deep pages cheap).

    With assigned clips, "next" skips the clip: the claim is given back for someone else.
    """
    if mine and step > 0 and state.q_current is not None:
        with db() as session:
            assign.release(session, state.q_current, user.username)
        skipped.add(state.q_current)
        state.q_current = None
        return
    pos = ids.index(state.q_current) if state.q_current in ids else 0
    target = pos + step
    if 0 <= target < len(ids):
        state.q_current = ids[target]
    elif target >= len(ids) and page.next_cursor:
        if len(state.q_cursors) == state.q_page + 1:
            state.q_cursors.append(page.next_cursor)
        state.q_page += 1
        state.q_current = None
    elif target < 0 and state.q_page > 0:
        state.q_page -= 1
        state.q_current = None
        state.q_go_last = True


def _page(step: int) -> None:
    if step > 0 and page.next_cursor:
        if len(state.q_cursors) == state.q_page + 1:
            state.q_cursors.append(page.next_cursor)
        state.q_page += 1
    elif step < 0 and state.q_page > 0:
        state.q_page -= 1
    state.q_current = None


if state.pop("q_go_last", False) and ids:
    state.q_current = ids[-1]

if not rows:
    st.info("Nothing left for you to review here: every clip has the reviews it needs, or another reviewer has it."
            if mine else "Nothing in the queue matches these filters.")
    st.stop()

left, right = st.columns([1.3, 1.6], gap="medium")

# --- the page of items ----------------------------------------------------------------
with left:
    table = [{
        " ": "▶" if r.item_id == state.q_current else "",
        "item": r.item_id, "clip": r.uri.rsplit("/", 1)[-1], "label": r.model_label,
        "score": r.model_score, "flagged": r.flagged, "reviews": r.n_reviews,
    } for r in rows]
    if blind:  # nothing of the model or of other reviewers before one votes
        table = [{k: v for k, v in t.items() if k in (" ", "item", "clip")} for t in table]
    # Widths chosen so every column is visible in the left half at 1,600 px; a click on any cell
    # (the clip's name included) opens that clip.
    picked = st.dataframe(table, hide_index=True, key="q_table", on_select="rerun",
                          selection_mode=["single-row", "single-cell"], height=min(38 + 35 * len(rows), 520),
                          width="stretch",
                          column_config={" ": st.column_config.TextColumn(width=20),
                                         "item": st.column_config.NumberColumn(width=42),
                                         "clip": st.column_config.TextColumn(width=130),
                                         "label": st.column_config.TextColumn(width=84),
                                         "score": st.column_config.NumberColumn(format="%.2f", width=46),
                                         "flagged": st.column_config.CheckboxColumn(width=52),
                                         "reviews": st.column_config.NumberColumn(width=56)})
    selection = getattr(picked, "selection", None)
    sel = list(getattr(selection, "rows", []) or []) + [c[0] for c in (getattr(selection, "cells", []) or [])]
    if sel and state.get("q_table_handled") != (state.q_page, sel[0], ids) and sel[0] < len(ids):
        # A click opens that item once; later prev/next moves are not undone by the stale selection.
        state.q_table_handled = (state.q_page, sel[0], ids)
        target = ids[sel[0]]
        if mine:
            with db() as session:
                ok = assign.claim(session, user.username, target)
            if ok:
                state.q_current = target
            else:
                state.q_notice = "Another reviewer has just taken that clip."
        else:
            state.q_current = target
        st.rerun()
    if not mine:
        pc = st.columns(3)
        pc[0].button("◀ Page", on_click=_page, args=(-1,), disabled=state.q_page == 0, key="q_prev_page")
        pc[1].markdown(f"Page **{state.q_page + 1}** of {max(1, -(-total // page_size)):,}")
        pc[2].button("Page ▶", on_click=_page, args=(1,), disabled=page.next_cursor is None, key="q_next_page")
    else:
        st.caption(f"{len(rows)} clip(s) you could get next; the one on the right is held for you "
                   f"for {assign.CLAIM_TTL_S // 60} min.")

row: QueueRow = rows[ids.index(state.q_current)]


def _verdict(item: QueueRow, verdict: str) -> None:
    """Record the verdict, then move to the next item (the decided one may leave the list)."""
    note = (state.get(f"note_{item.item_id}") or "").strip() or None
    with db() as session:
        result = record_verdict(session, item.item_id, user.username, verdict, note,
                                expected_version=item.version)
        assign.release(session, item.item_id, user.username)
    state.q_given = state.get("q_given", 0) + 1
    state.q_last = (item.uri, verdict, result.final_verdict, result.stale, item.item_id)
    if mine:
        state.q_current = None  # the next run claims the next clip
        return
    pos = ids.index(item.item_id)
    nxt = ids[pos + 1] if pos + 1 < len(ids) else None
    if nxt is None:
        _go(1)
    else:
        state.q_current = nxt


# --- the selected clip ------------------------------------------------------------------
def _undo(item_id: int) -> None:
    """Take the last verdict back and show that clip again."""
    with db() as session:
        result = undo_verdict(session, item_id, user.username)
        if result is not None and mine:
            assign.claim(session, user.username, item_id)
    state.q_last = None
    state.q_notice = ("Verdict taken back." if result is not None
                      else "Nothing to undo (too long ago, or already taken back).")
    if result is not None:
        state.q_given = max(0, state.get("q_given", 1) - 1)
        skipped.discard(item_id)
        state.q_current = item_id
        state.q_undone = item_id


with right:
    if notice := state.pop("q_notice", None):
        st.info(notice)
    if last := state.get("q_last"):
        uri, verdict, final, stale, last_id = last
        msg = f"Recorded **{verdict}** for {md(uri.rsplit('/', 1)[-1])}" + (
            f" — final: **{final}**" if final and not blind else "")
        ok, undo = st.columns([5, 1])
        ok.success(msg + (" (someone else reviewed it meanwhile)" if stale and not blind else ""))
        undo.button("Undo", key="q_undo", on_click=_undo, args=(last_id,), shortcut="Alt+Z",
                    help="take this verdict back (Alt+Z)")
    nav = st.columns([1.4, 1.4, 2])
    nav[0].button("◀ Previous", on_click=_go, args=(-1,), shortcut="Alt+P", key="q_prev",
                  disabled=mine or (state.q_page == 0 and ids.index(row.item_id) == 0))
    if mine:
        nav[1].button("Skip ▶", on_click=_go, args=(1,), shortcut="Alt+N", key="q_next",
                      help="give this clip back for someone else (Alt+N)")
    else:
        nav[1].button("Next ▶", on_click=_go, args=(1,), shortcut="Alt+N", key="q_next",
                      disabled=page.next_cursor is None and ids.index(row.item_id) == len(ids) - 1)
    # Names and paths come from whoever wrote the files: shown literally, never as markdown.
    st.subheader(md(row.uri.rsplit("/", 1)[-1]))
    st.caption(f"{md(row.uri)} · item {row.item_id} · model {md(row.model_version)}")

    with db() as session:
        score = item_score(session, row.item_id)
        reviews = item_reviews(session, row.item_id)
        fingerprint = session.get(Clip, row.clip_id).fingerprint
    shown = evidence.revealed(blind, user.username, [r.reviewer for r in reviews])
    if shown:
        colour = evidence.VERDICT_BADGES.get(row.model_label or "", "orange")
        st.markdown(f"Model says :{colour}-badge[{md(row.model_label or 'no label')}]"
                    + (" :red-badge[flagged]" if row.flagged else "")
                    + (f" · final verdict :{evidence.VERDICT_BADGES.get(row.final_verdict, 'blue')}-badge"
                       f"[{md(row.final_verdict)}]" if row.final_verdict else ""))
        st.markdown("**Why it is here:** " + md(evidence.flag_reason(
            row.model_label, row.flagged, row.confidence, score.prob_bonafide if score else None,
            score.segments if score else [])))
        m = st.columns(4)
        m[0].metric("Score", "—" if row.model_score is None else f"{row.model_score:.3f}",
                    help="higher = more bona fide")
        m[1].metric("P(bona fide)",
                    "—" if score is None or score.prob_bonafide is None else f"{score.prob_bonafide:.3f}")
        m[2].metric("Confidence", "—" if row.confidence is None else f"{row.confidence:.2f}")
        m[3].metric("Reviews", row.n_reviews)
    else:
        st.info("Blind review: the model's output and other reviewers' verdicts are shown once you have voted.",
                icon=":material/visibility_off:")

    # Blind: the windows are still playable regions, in time order, without the model's probabilities.
    segments = audio.segments_frame(score.segments if score else [])
    picture = None
    changed = False  # the audio at the path is not what was scored: not played, no verdict
    try:
        data = _audio_bytes(row.uri)
        if audio.fingerprint_matches(data, fingerprint, row.uri, cfg.storage_options) is False:
            changed, data = True, None
            st.error("The audio at this path changed since it was scored (fingerprint mismatch): "
                     "it is not played and no verdict can be recorded. Re-score the clip first.")
        else:
            picture = _picture(row.uri)
    except Exception as exc:  # missing object, access denied, undecodable: review can still go on
        data = None
        st.warning(f"Audio unavailable: {type(exc).__name__}: {md(exc)}")

    if data is not None and picture is not None:
        # Waveform + spectrogram with a playhead, zoom, and the model's windows as regions: pressing a
        # region (or Tab to it, then Enter) plays that window. It drives the st.audio player below it.
        waveform.render(picture, segments, shown, key=f"wave_{row.item_id}")
    if data is not None:
        # Alt+K plays/pauses the clip from anywhere on the page (a key handler added once to the page).
        components.html(PLAY_PAUSE_KEY, height=0)
        st.audio(data, format=audio.audio_mime(row.uri))
    if picture is not None:
        st.caption(("Press a numbered window to play it. " if len(segments) else "")
                   + "Click the picture to move the playhead; Ctrl + wheel zooms, Shift + wheel scrolls."
                   + (f" Cyan windows look spoofed (P(bona fide) below {audio.SUSPICIOUS_PROB:.1f})."
                      if shown and len(segments) else ""))
    if len(segments) and shown:
        lines = _operating_lines(db_url(), row.model_version)
        spec = _spectrogram(row.uri) if picture is not None else None  # audio readable and unchanged
        st.altair_chart(audio.timeline_chart(spec, segments, lines=lines), key=f"chart_{row.item_id}",
                        width="stretch")
        st.caption(md(evidence.operating_caption(lines, row.model_version)))

    st.markdown("**Your verdict**")
    st.text_area("Note (optional)", key=f"note_{row.item_id}", height=68,
                 placeholder="what you heard, e.g. 'robotic sibilants from 6 s'")
    vb = st.columns(3)
    for col, (verdict, text, keys) in zip(vb, VERDICT_BUTTONS):
        col.button(text, key=f"verdict_{verdict}", on_click=_verdict, args=(row, verdict), shortcut=keys,
                   icon=VERDICT_ICONS[verdict], help=f"{text} ({keys})",
                   type="primary" if verdict != "unsure" else "secondary", width="stretch", disabled=changed)
    # One colour per verdict (the theme would make both primary buttons the same red).
    st.html("<style>" + "".join(
        f".st-key-verdict_{v} button{{background:{c};border-color:{c};color:#fff}}"
        for v, c in evidence.VERDICT_COLOURS.items()) + "</style>")

    st.markdown("**Previous verdicts**")
    if not shown:
        st.caption("Hidden until you vote (blind review).")
    elif reviews:
        st.dataframe([{"when": r.created_at.strftime("%Y-%m-%d %H:%M"), "reviewer": r.reviewer,
                       "verdict": r.verdict, "note": r.note or ""} for r in reviews],
                     hide_index=True, width="stretch")
    else:
        st.caption("No verdicts yet.")
