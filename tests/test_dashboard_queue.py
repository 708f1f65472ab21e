"""AppTest checks of sign-in and the review queue page against a seeded SQLite database."""

from __future__ import annotations

import json
import os

import pytest

from dashboard_support import app_as, chart_of, copy_db, make_template, query
from feedback.db import session_factory, session_scope
from feedback.queue import record_verdict


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("dash-template"))


@pytest.fixture
def db_url(template, tmp_path, monkeypatch):
    url = copy_db(template, tmp_path)
    monkeypatch.setenv("VOXGUARD_DB_URL", url)
    # The review page plays audio only from the source roots: the seeded clips' folder.
    monkeypatch.setenv("VOXGUARD_SOURCE_ROOTS", os.path.dirname(template.audio_files[0]))
    return url


def _current_uri(at) -> str:
    return at.caption[0].value.split(" · ")[0].replace("\\", "")  # the path, markdown-escaped


def _clip_view(at) -> dict:
    """The data the clip page sends to its waveform view (st.components.v2, JSON)."""
    views = at.get("bidi_component")
    assert len(views) == 1 and views[0].proto.component_name == "voxguard_waveform"
    data = json.loads(views[0].proto.json)

    def strings(value, path=""):  # every text value in the payload, by where it is
        if isinstance(value, str):
            yield path
        elif isinstance(value, dict):
            for k, v in value.items():
                yield from strings(v, f"{path}.{k}")
        elif isinstance(value, list):
            for v in value:
                yield from strings(v, f"{path}[]")

    # Numbers and booleans only, bar the spectrogram's base64 bytes: no clip name, path or note reaches it.
    assert list(strings(data)) == [".spectrogram.b64"]
    return data


def test_anonymous_visitor_sees_only_the_sign_in(db_url):
    at = app_as(None)
    assert not at.exception
    assert [t.value for t in at.title] == ["voxguard review"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.dataframe and not at.selectbox  # no queue, no filters
    assert not at.sidebar.button  # no sign-out: nothing behind the sign-in
    with pytest.raises(ValueError, match="Known pages: \\['Sign in'\\]"):
        at.switch_page("pages/jobs.py")  # the other pages are not even registered


def test_local_sign_in_checks_the_bcrypt_hash_and_audits(db_url):
    at = app_as(None)
    at.text_input[0].input("alice")
    at.text_input[1].input("wrong")
    at.button[0].click().run()
    assert at.error and "wrong password" in at.error[0].value
    assert "Review queue" not in [t.value for t in at.title]
    at.text_input[0].input("alice")
    at.text_input[1].input("alice-password")
    at.button[0].click().run()
    assert not at.exception
    assert "Review queue" in [t.value for t in at.title]
    assert "alice" in at.sidebar.caption[0].value
    actions = [r[0] for r in query(db_url, "select action from audit_events where actor='alice' "
                                           "and action like 'auth.%' order by id")]
    assert actions == ["auth.sign_in_failed", "auth.sign_in"]


def test_oidc_configured_uses_st_login_and_maps_roles(db_url):
    from streamlit.testing.v1 import AppTest

    from dashboard_support import APP

    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "voxguard", "client_secret": "s",
                          "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}
    at.user = {"is_logged_in": False}
    at.run()
    assert [b.label for b in at.button] == ["Sign in"] and not at.text_input  # no password form
    at.user = {"is_logged_in": True, "email": "carol", "name": "Carol"}
    at.run()
    assert "Review queue" in [t.value for t in at.title]
    assert "carol" in at.sidebar.caption[0].value and "lead" in at.sidebar.caption[0].value


def test_verdict_with_note_is_recorded_and_the_queue_advances(db_url):
    at = app_as("alice")
    assert not at.exception
    first = at.session_state["q_current"]
    first_uri = _current_uri(at)
    table = at.dataframe[0].value
    assert table["item"].iloc[0] == first
    second = int(table["item"].iloc[1])
    at.text_area(key=f"note_{first}").input("robotic sibilants")
    at.button(key="verdict_spoof").click().run()
    assert not at.exception
    assert at.session_state["q_current"] == second
    assert _current_uri(at) != first_uri
    assert "Recorded **spoof**" in at.success[0].value
    rows = query(db_url, "select reviewer, verdict, note from reviews where item_id = :i", i=first)
    assert rows == [("alice", "spoof", "robotic sibilants")]
    status = query(db_url, "select status, final_verdict from review_items where id = :i", i=first)
    assert status == [("decided", "spoof")]
    assert first not in at.dataframe[0].value["item"].tolist()  # decided items leave the open queue
    audit = query(db_url, "select actor from audit_events where action = 'review.verdict' "
                          "and json_extract(details, '$.item_id') = :i", i=first)
    assert audit == [("alice",)]


def test_next_previous_and_pagination(db_url):
    at = app_as("alice")
    ids = at.dataframe[0].value["item"].tolist()
    at.button(key="q_next").click().run()
    assert at.session_state["q_current"] == ids[1]
    at.button(key="q_prev").click().run()
    assert at.session_state["q_current"] == ids[0]
    total = len(query(db_url, "select id from review_items where status = 'open'"))
    assert total > 25 and len(ids) == 25
    at.button(key="q_next_page").click().run()
    page2 = at.dataframe[0].value["item"].tolist()
    assert not set(page2) & set(ids) and len(page2) == min(25, total - 25)
    at.button(key="q_prev").click().run()  # before the first item of page 2: last item of page 1
    assert at.session_state["q_current"] == ids[-1]


def test_filters_by_source_label_and_job(db_url):
    at = app_as("alice")
    at.selectbox(key="q_source").select("podcasts").run()
    items = at.dataframe[0].value["item"].tolist()
    want = {r[0] for r in query(db_url, "select i.id from review_items i join clips c on c.id = i.clip_id "
                                        "where c.source = 'podcasts' and i.status = 'open'")}
    assert items and set(items) == want
    at.selectbox(key="q_label").select("spoof").run()
    assert set(at.dataframe[0].value["label"]) == {"spoof"}
    at.selectbox(key="q_source").select("(any)").run()
    at.selectbox(key="q_label").select("(any)").run()
    at.selectbox(key="q_job").select("job-0002").run()
    items = set(at.dataframe[0].value["item"])
    want = {r[0] for r in query(db_url, "select i.id from review_items i join scores s on s.clip_id = i.clip_id "
                                        "join scoring_jobs j on j.id = s.scoring_job_id "
                                        "where j.job_id = 'job-0002' and i.status = 'open'")}
    assert items == want


def test_clip_detail_audio_segments_and_previous_verdicts(db_url):
    at = app_as("bob")
    item = at.session_state["q_current"]
    assert len(at.get("audio")) == 1 and not at.warning  # the real WAV was fetched server-side
    assert len(at.get("vega_lite_chart")) == 1  # spectrogram + segment timeline
    # The waveform view gets the clip's picture and the model's windows, suspicious ones marked.
    view = _clip_view(at)
    regions = view["regions"]
    assert [r["id"] for r in regions] == list(range(len(regions))) and len(regions) >= 3
    assert all(r["start_s"] < r["band_end_s"] <= r["end_s"] and 0 <= r["prob_bonafide"] <= 1 for r in regions)
    assert any(r["suspicious"] for r in view["regions"])  # seeded clips carry a spoof-looking segment
    assert view["blind"] is False and view["duration_s"] > 1 and len(view["peaks"]) > 2 * 200
    assert at.get("audio")[0].proto.start_time == 0  # the whole clip: regions play from the view
    # Another reviewer's earlier verdict is listed.
    factory = session_factory(db_url)
    with session_scope(factory) as session:
        record_verdict(session, item, "carol", "unsure", "hmm")
    factory.kw["bind"].dispose()
    at.run()
    prev = at.dataframe[1].value
    assert prev["reviewer"].tolist() == ["carol"] and prev["note"].tolist() == ["hmm"]


# --- blind review, assignment, undo, name and score filters (issue 14) --------------------------------
def test_blind_review_hides_the_model_and_other_verdicts_until_one_votes(db_url, monkeypatch):
    monkeypatch.setenv("VOXGUARD_REVIEW_BLIND", "1")
    at = app_as("alice")
    assert not at.exception
    item = at.session_state["q_current"]
    assert list(at.dataframe[0].value.columns) == [" ", "item", "clip"]  # no label, score, reviews
    assert not at.metric and "Blind review" in at.info[0].value
    assert "q_label" not in [s.key for s in at.selectbox] and not at.number_input  # no label/score filters
    assert not at.get("vega_lite_chart")  # the segment chart shows the model's probabilities
    view = _clip_view(at)  # the waveform view: regions with times only, nothing of the model's output
    assert view["blind"] is True and view["regions"]
    assert all(set(r) == {"id", "start_s", "end_s", "band_end_s"} for r in view["regions"])
    factory = session_factory(db_url)
    with session_scope(factory) as session:
        record_verdict(session, item, "bob", "unsure", "can't tell")  # "unsure" leaves the clip open
    factory.kw["bind"].dispose()
    at.run()
    assert at.session_state["q_current"] == item
    assert len(at.dataframe) == 1 and not at.metric  # bob's verdict stays hidden too
    at.button(key="verdict_unsure").click().run()
    assert at.session_state["q_current"] != item
    at.button(key="q_prev").click().run()  # back to the clip just judged: everything is shown now
    assert at.session_state["q_current"] == item
    assert at.metric and any("Why it is here" in m.value for m in at.markdown)
    assert sorted(at.dataframe[1].value["reviewer"]) == ["alice", "bob"]


def test_assignment_gives_two_reviewers_different_clips(db_url, monkeypatch):
    monkeypatch.setenv("VOXGUARD_REVIEW_ASSIGN", "1")
    alice, bob = app_as("alice"), app_as("bob")
    a, b = alice.session_state["q_current"], bob.session_state["q_current"]
    assert a and b and a != b
    assert a not in bob.dataframe[0].value["item"].tolist()  # alice's clip is not offered to bob
    alice.run()
    assert alice.session_state["q_current"] == a  # a reload keeps one's clip
    alice.button(key="verdict_spoof").click().run()
    a2 = alice.session_state["q_current"]
    assert a2 not in (a, b, None)
    bob.button(key="q_next").click().run()  # skip: bob's clip goes back to the pool, bob gets another
    b2 = bob.session_state["q_current"]
    assert b2 not in (b, a2, None)
    holders = dict(query(db_url, "select name, holder from leases where name like 'review:%'"))
    assert sorted(holders.values()) == ["alice", "bob"] and f"review:{b}:0" not in holders
    bob.toggle(key="q_mine").set_value(False).run()  # browsing the whole queue is still possible
    assert len(bob.dataframe[0].value) == 25


def test_undo_takes_the_last_verdict_back(db_url):
    at = app_as("alice")
    first = at.session_state["q_current"]
    at.button(key="verdict_bonafide").click().run()
    assert at.session_state["q_current"] != first
    at.button(key="q_undo").click().run()
    assert not at.exception
    assert at.session_state["q_current"] == first
    assert "Verdict taken back" in at.info[0].value
    assert query(db_url, "select count(*) from reviews where item_id = :i", i=first) == [(0,)]
    assert query(db_url, "select status from review_items where id = :i", i=first) == [("open",)]


def test_name_and_score_range_filters(db_url):
    at = app_as("alice")
    at.text_input(key="q_name").input("DEMO_00").run()
    clips = at.dataframe[0].value["clip"].tolist()
    assert clips and all("demo_00" in c for c in clips)
    at.text_input(key="q_name").input("").run()
    at.number_input(key="q_score_min").set_value(-1.0).run()
    at.number_input(key="q_score_max").set_value(1.0).run()
    scores = at.dataframe[0].value["score"]
    assert len(scores) and scores.between(-1.0, 1.0).all()
    want = query(db_url, "select count(*) from review_items where status = 'open' and model_score between -1 and 1")
    assert f"({want[0][0]:,} match the filters)" in at.get("progress")[0].proto.text


# --- the model's threshold and abstain band on the clip chart (issue 14) ---------------------------------
def _chart_layers(at) -> tuple[list[dict], dict]:
    spec, data = chart_of(at.get("vega_lite_chart")[0])
    return spec["layer"], data


def test_clip_chart_draws_the_models_threshold_and_band_in_probability(db_url):
    # The seeded model's rule: identity calibration, threshold 0 and band [logit 0.4, logit 0.6) in raw
    # scores, i.e. P 0.5 and 0.4-0.6 (its clips are labelled by exactly that rule).
    at = app_as("bob")
    assert not at.exception
    layers, data = _chart_layers(at)
    rows = [data[layer["data"]["name"]] for layer in layers if "data" in layer]
    threshold = next(r for r in rows if r and r[0].get("what") == "model threshold")
    band = next(r for r in rows if r and r[0].get("what") == "abstain band")
    assert threshold[0]["p"] == pytest.approx(0.5)
    assert (band[0]["lo"], band[0]["hi"]) == (pytest.approx(0.4), pytest.approx(0.6))
    caption = next(c.value for c in at.caption if "operating point" in c.value)
    assert "threshold P 0.500" in caption and "0.400–0.600" in caption


def test_clip_chart_without_a_recorded_rule_says_so_or_reads_the_package(db_url):
    import streamlit as st

    from feedback.db import session_factory, session_scope
    from feedback.models import ModelVersion
    from siamese.package import ModelPackage
    from voxguard.settings import Settings

    factory = session_factory(db_url)
    with session_scope(factory) as session:  # registered before the rule was kept
        for mv in session.query(ModelVersion):
            mv.metrics = {k: v for k, v in mv.metrics.items() if k != "operating_point"}
    at = app_as("bob")
    assert not at.exception
    layers, data = _chart_layers(at)
    assert not [k for k, rows in data.items() if rows and rows[0].get("what") in ("model threshold", "abstain band")]
    assert any("are not recorded for model vg-2026.02" in c.value for c in at.caption)
    # ... unless its package is a readable file: then the rule is read from the package itself.
    bundled = Settings.from_env().model_path
    with session_scope(factory) as session:
        session.query(ModelVersion).filter_by(version="vg-2026.02").one().artefact_uri = str(bundled)
    factory.kw["bind"].dispose()
    pkg = ModelPackage.load(bundled)
    expected = float(pkg.calibration.prob_bonafide(pkg.operating_point.threshold))
    st.cache_data.clear()  # the page keeps a version's rule for 5 minutes
    at = app_as("bob")
    layers, data = _chart_layers(at)
    threshold = next(rows for rows in data.values() if rows and rows[0].get("what") == "model threshold")
    assert threshold[0]["p"] == pytest.approx(expected)
