"""AppTest checks of the jobs, models, retraining and reviewers pages against a seeded database."""

from __future__ import annotations

import json
import os
import time

import bcrypt
import pytest

from dashboard_support import app_as, chart_of, copy_db, make_template, query


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("dash-pages"), n_clips=40)


@pytest.fixture
def db_url(template, tmp_path, monkeypatch):
    url = copy_db(template, tmp_path)
    monkeypatch.setenv("VOXGUARD_DB_URL", url)
    monkeypatch.setenv("VOXGUARD_DATA_DIR", str(tmp_path / "data"))
    return url


def _production(url: str) -> str:
    return query(url, "select version from model_versions where status = 'production'")[0][0]


# --- jobs ----------------------------------------------------------------------------------
def test_jobs_list_results_histogram_and_download(db_url):
    at = app_as("alice", page="jobs")
    assert not at.exception
    jobs = at.dataframe[0].value
    assert set(jobs["job"]) == {"job-0001", "job-0002"}
    assert dict(zip(jobs["job"], jobs["status"]))["job-0001"] == "succeeded"
    at.selectbox(key="jobs_selected").select("job-0002").run()
    n = query(db_url, "select n_total from scoring_jobs where job_id = 'job-0002'")[0][0]
    results = at.dataframe[1].value
    assert len(results) == n and set(results.columns) >= {"uri", "label", "score", "flagged"}
    assert len(at.get("vega_lite_chart")) == 2  # score drift across jobs, the job's score histogram
    assert "median score" in at.get("vega_lite_chart")[0].proto.spec
    spec = at.get("vega_lite_chart")[1].proto.spec
    assert '"label"' in spec and "threshold" in spec  # split by label, the production threshold drawn
    assert at.caption[-1].value.startswith("Labels: ")
    assert at.get("download_button")
    assert "bulk_start" not in [b.key for b in at.button]  # reviewers cannot bulk-confirm


def test_a_lead_bulk_confirms_a_jobs_confident_spoofs_after_confirmation(db_url):
    want = {r[0] for r in query(db_url, "select i.id from review_items i join scoring_jobs j on j.id = i.scoring_job_id "
                                        "where j.job_id = 'job-0002' and i.status = 'open' "
                                        "and i.model_label = 'spoof' and i.confidence >= 0.9")}
    assert want
    at = app_as("carol", role="lead", page="jobs")
    at.selectbox(key="jobs_selected").select("job-0002").run()
    at.slider(key="bulk_floor").set_value(0.9).run()
    at.button(key="bulk_start").click().run()
    assert f"on {len(want):,} clip(s)" in at.warning[0].value
    assert query(db_url, "select count(*) from reviews where reviewer = 'carol'") == [(0,)]  # nothing yet
    at.button(key="bulk_confirm").click().run()
    assert not at.exception
    got = {r[0] for r in query(db_url, "select item_id from reviews where reviewer = 'carol' and verdict = 'spoof'")}
    assert got == want
    assert query(db_url, "select count(*) from review_items where id in ({}) and status = 'decided' "
                         "and final_verdict = 'spoof'".format(",".join(map(str, want)))) == [(len(want),)]
    events = query(db_url, "select actor from audit_events where action = 'review.bulk_confirm'")
    assert events == [("carol",)]


def test_submitting_a_job_starts_voxguard_score_and_shows_its_outcome(db_url, tmp_path, monkeypatch):
    from dashboard import launcher

    monkeypatch.setenv("VOXGUARD_SOURCE_ROOTS", str(tmp_path))
    monkeypatch.setenv("VOXGUARD_OUTPUT_ROOTS", str(tmp_path / "out"))
    at = app_as("olga", role="operator", page="jobs")
    form_inputs = {t.label: t for t in at.text_input}
    form_inputs["Source"].input(str(tmp_path / "nothing-here"))
    form_inputs["Job id"].input("job-from-test")
    form_inputs["Destination"].input(str(tmp_path / "out"))
    at.button(key="FormSubmitter:submit_job-Submit").click().run()
    assert not at.exception and "Started job **job-from-test**" in at.success[0].value
    (launch,) = launcher.list_launches(tmp_path / "data")
    assert launch.how == "local" and launch.launched_by == "olga"
    assert launch.command[1:4] == ["-m", "voxguard", "score"] and "--job-id" in launch.command
    deadline = time.monotonic() + 60
    while launcher.state_of(launch, tmp_path / "data") == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    at.run()
    labels = [e.label for e in at.expander]
    # The source does not exist, so the real `voxguard score` refuses it; the page shows the outcome and log.
    assert any(lbl.startswith("job-from-test — failed (exit") for lbl in labels), labels
    assert query(db_url, "select actor from audit_events where action = 'job.submit'") == [("olga",)]
    assert os.path.exists(launch.log_path)


# --- models --------------------------------------------------------------------------------
def _curve_labels(spec: dict, data: dict[str, list[dict]]) -> list[dict]:
    """Rows of the text marks naming each curve (a nested layer; Altair lifts a lone sub-layer's data)."""
    return [row for layer in spec["layer"] for sub in layer.get("layer", []) if sub["mark"]["type"] == "text"
            for row in data[sub.get("data", layer.get("data"))["name"]]]


def test_models_show_metrics_curves_and_generators(db_url):
    at = app_as("alice", page="models")
    assert not at.exception
    table = at.dataframe[0].value
    assert table.loc[table["status"] == "production", " "].tolist() == ["★"]
    assert [c for c in table.columns if c.startswith("EER %")] == ["EER % · dev"]  # the data set beside the EER
    charts = [chart_of(c) for c in at.get("vega_lite_chart")]
    assert len(charts) == 4  # DET + ROC (from the card's score lists), calibration plot, per-generator EER bars
    (det, data), (roc, _), (calibration, _), (generators, _) = charts
    assert det["title"].startswith("DET") and roc["title"].startswith("ROC")
    assert calibration["title"].startswith("Calibration")
    assert '"generator"' in json.dumps(generators) and "EER %" in json.dumps(generators)
    # DET on probit axes, its ticks read as percentages; the data set written next to its curve.
    curve = next(layer for layer in det["layer"] if layer["mark"]["type"] == "line" and "color" in layer["encoding"])
    x_axis, y_axis = curve["encoding"]["x"]["axis"], curve["encoding"]["y"]["axis"]
    assert "'1%'" in x_axis["labelExpr"] and "'20%'" in y_axis["labelExpr"]
    points = data[curve["data"]["name"]]
    far = sorted(p["far"] for p in points)
    assert far[0] == 0.0 and far[-1] == 1.0 and len(points) > 100  # the whole curve, not 9 sweep points
    shown_eer = table.loc[table["status"] == "production", "EER % · dev"].iloc[0]  # the card's EER, in %
    assert [r["text"] for r in _curve_labels(det, data)] == [f"dev · EER {shown_eer:.1f} %"]
    assert any("Expected calibration error" in m.value and "on dev" in m.value for m in at.markdown)
    assert "models_promote" not in [b.key for b in at.button]  # reviewers cannot promote


def test_models_made_before_score_lists_still_render(db_url):
    """A card without score lists or reliability bins (older models): the page says so, the rest renders."""
    from feedback.db import session_factory, session_scope
    from feedback.models import ModelVersion

    factory = session_factory(db_url)
    with session_scope(factory) as session:
        for mv in session.query(ModelVersion):
            mv.metrics = {name: {k: v for k, v in card.items() if k not in ("score_lists", "reliability")}
                          for name, card in mv.metrics.items() if isinstance(card, dict) and "eer" in card}
    factory.kw["bind"].dispose()
    at = app_as("alice", page="models")
    assert not at.exception
    infos = [i.value for i in at.info]
    assert any("DET/ROC: score lists not recorded for this model" in i for i in infos)
    assert any("Calibration plot: reliability bins not recorded for this model" in i for i in infos)
    assert len(at.get("vega_lite_chart")) == 1  # the per-generator bars only
    assert [h.value for h in at.subheader][:3] == ["DET and ROC", "Calibration", "Metrics — dev"]


def test_promote_needs_confirmation(db_url):
    at = app_as("carol", role="lead", page="models")
    before = _production(db_url)
    at.selectbox(key="models_version").select("vg-2026.03").run()
    at.button(key="models_promote").click().run()
    assert "Promote **vg-2026.03**" in at.warning[0].value
    gate = next(m.value for m in at.markdown if "The gate's decision" in m.value)
    assert "**failed** (keep the champion)" in gate and "9.40%" in gate and "not better on held-back" in gate
    assert _production(db_url) == before  # nothing happens before confirming
    at.button(key="models_confirm_no").click().run()
    assert not at.warning and _production(db_url) == before
    at.button(key="models_promote").click().run()
    at.button(key="models_confirm_yes").click().run()
    assert not at.exception
    assert _production(db_url) == "vg-2026.03"
    assert "vg-2026.03 is now in production" in at.success[0].value
    assert query(db_url, "select actor from audit_events where action = 'model.promote' "
                         "and json_extract(details, '$.version') = 'vg-2026.03'") == [("carol",)]


def test_rollback_needs_confirmation(db_url):
    at = app_as("carol", role="lead", page="models")
    assert _production(db_url) == "vg-2026.02"
    at.button(key="models_rollback").click().run()
    assert _production(db_url) == "vg-2026.02"
    at.button(key="models_confirm_yes").click().run()
    assert _production(db_url) == "vg-2026.01"


# --- retraining ------------------------------------------------------------------------------
def test_retraining_policy_edit_and_retrain_now(db_url):
    at = app_as("carol", role="lead", page="retraining")
    assert not at.exception
    assert len(at.dataframe[-1].value) == 2  # seeded run history with gate decisions
    assert set(at.dataframe[-1].value["gate"]) == {"promoted", "kept champion"}
    history = at.get("vega_lite_chart")[-1].proto.spec  # champion vs challenger per run
    assert "challenger" in history and "promoted" in history
    at.number_input[0].set_value(5)
    at.number_input[1].set_value(3.0)
    at.button(key="FormSubmitter:policy-Save policy").click().run()
    assert query(db_url, "select min_mismatches, max_age_days, updated_by from retrain_policy") == [(5, 3.0, "carol")]
    at.text_input[0].input("new generator")
    at.button(key="FormSubmitter:retrain_now-Retrain now").click().run()
    assert "Retraining requested" in at.success[0].value
    assert query(db_url, "select trigger, status, requested_by, reason from retrain_runs where status = 'requested'") \
        == [("manual", "requested", "carol", "new generator")]


def test_reviewers_cannot_change_policy_or_request_retraining(db_url):
    at = app_as("alice", page="retraining")
    assert at.button(key="FormSubmitter:policy-Save policy").disabled
    assert "FormSubmitter:retrain_now-Retrain now" not in [b.key for b in at.button]


# --- reviewers --------------------------------------------------------------------------------
def test_agreement_and_audit_trail(db_url):
    at = app_as("carol", role="lead", page="reviewers")
    assert not at.exception
    kappa = at.dataframe[0].value  # Cohen's kappa per pair (the seeded reviews: alice and bob)
    assert kappa[["reviewer A", "reviewer B"]].values.tolist() == [["alice", "bob"]]
    per_reviewer = at.dataframe[1].value
    assert set(per_reviewer["reviewer"]) == {"alice", "bob"}
    per_clip = at.dataframe[2].value
    assert (~per_clip["unanimous"]).sum() >= 1
    at.checkbox(key="rev_only_split").check().run()
    assert not at.dataframe[2].value["unanimous"].any()
    at.text_input(key="audit_action").input("review.verdict").run()
    trail = at.dataframe[3].value
    n = query(db_url, "select count(*) from audit_events where action = 'review.verdict'")[0][0]
    assert len(trail) == n and set(trail["action"]) == {"review.verdict"}
    assert "Add reviewer" not in [b.label for b in at.button]  # leads are not admins


def test_admin_adds_a_reviewer_with_a_bcrypt_hash(db_url):
    at = app_as("root", role="admin", page="reviewers")
    form = {t.label: t for t in at.text_input}
    form["Username"].input("dave")
    form["Initial password"].input("dave-password")
    at.button(key="FormSubmitter:add_reviewer-Add reviewer").click().run()
    assert not at.exception and "Added dave" in at.success[0].value
    (hashed,) = query(db_url, "select password_hash from reviewers where username = 'dave'")[0]
    assert bcrypt.checkpw(b"dave-password", hashed)


def test_admin_disables_an_account_which_is_shut_out(db_url):
    alice = app_as("alice")  # a signed-in local session
    assert not alice.exception and "Username" not in [t.label for t in alice.text_input]  # the queue, not sign-in
    admin = app_as("root", role="admin", page="reviewers")
    admin.selectbox(key="active_who").select("alice")
    admin.radio(key="active_action").set_value("disable")
    admin.button(key="FormSubmitter:set_active-Apply").click().run()
    assert not admin.exception and "alice is disabled" in admin.success[0].value
    assert query(db_url, "select active from reviewers where username = 'alice'") == [(False,)]
    assert query(db_url, "select count(*) from audit_events where action = 'reviewer.disable'") == [(1,)]
    # The same stored session on its next run of the entry script: signed out, told why.
    # (AppTest re-runs only the page after the first run, so a fresh AppTest carries the session.)
    alice = app_as("alice")
    assert "user" not in alice.session_state
    assert "disabled" in alice.error[0].value
    assert [t.label for t in alice.text_input] == ["Username", "Password"]  # only the sign-in form is left


def test_the_bundled_model_is_listed_with_every_data_set_and_its_training_curves(tmp_path, monkeypatch):
    from feedback.db import upgrade
    from voxguard.commands.dashboard import bootstrap_registry
    from voxguard.settings import Settings

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url)
    bootstrap_registry(url, Settings.from_env().model_path)
    monkeypatch.setenv("VOXGUARD_DB_URL", url)
    at = app_as("alice", page="models")
    assert not at.exception
    table = at.dataframe[0].value
    assert [c for c in table.columns if c.startswith("EER %")] == ["EER % · dev", "EER % · devset", "EER % · test"]
    assert "Training curves" in [h.value for h in at.subheader]
    assert [h.value for h in at.subheader][:5] == ["DET and ROC", "Calibration", "Metrics — dev", "Metrics — devset",
                                                   "Metrics — test"]
    # The bundled card carries score lists for every data set: three named curves from the start.
    det, data = chart_of(at.get("vega_lite_chart")[0])
    named = {r["dataset"]: r for r in _curve_labels(det, data)}
    assert set(named) == {"dev", "devset", "test"}
    assert named["test"]["text"] == "test · EER 31.8 %"  # the card's own test EER, from its score lists
    assert "1,086 trials" in named["test"]["label"]
    assert not [c for c in at.caption if "Not recorded" in c.value]
    registered = query(url, "select metrics from model_versions")[0][0]
    assert '"operating_point"' in registered  # the decision rule the review page draws
