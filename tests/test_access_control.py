"""Who may run jobs, and where: role checks and source/output roots (issue 15, item 1).

The launcher is checked at library level (a page is not the only way in) and
through the jobs page (AppTest); the roots through real folders and symlinks.
"""

from __future__ import annotations

import os

import pytest

from dashboard import launcher
from dashboard_support import app_as, copy_db, make_template
from feedback.db import session_factory
from voxguard.roots import AccessDenied, is_within, parse_roots, resolve_within
from voxguard.settings import Settings


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("dash-access"), n_clips=10)


@pytest.fixture
def area(tmp_path):
    """allowed/ (source root, holding a clip and a link leading out), out/ (output root), secret/ (outside)."""
    allowed, out, secret = tmp_path / "allowed", tmp_path / "out", tmp_path / "secret"
    for folder in (allowed, out, secret):
        folder.mkdir()
    (allowed / "clip.wav").write_bytes(b"RIFF")
    (secret / "shadow").write_text("root:x")
    os.symlink(secret, allowed / "escape")
    return allowed, out, secret


@pytest.fixture
def settings(area, tmp_path):
    allowed, out, _ = area
    return Settings.from_env(data_dir=tmp_path / "data", source_roots=f"{allowed}:s3://media/incoming",
                             output_roots=str(out))


@pytest.fixture
def db_url(template, tmp_path, monkeypatch):
    url = copy_db(template, tmp_path)
    monkeypatch.setenv("VOXGUARD_DB_URL", url)
    monkeypatch.setenv("VOXGUARD_DATA_DIR", str(tmp_path / "data"))
    return url


def _launch(settings, db_url, actor, source, dest, job_id="job-x"):
    factory = session_factory(db_url)
    try:
        return launcher.launch_scoring(source, dest, str(settings.model_path), job_id, db_url=db_url,
                                       sessions=factory, data_dir=settings.data_dir, actor=actor,
                                       source_roots=settings.allowed_source_roots(),
                                       output_roots=settings.allowed_output_roots())
    finally:
        factory.kw["bind"].dispose()


# --- roots ---------------------------------------------------------------------------------
def test_roots_list_keeps_s3_uris_whole():
    assert parse_roots("/data:s3://bucket/pre:/mnt/x:") == ["/data", "s3://bucket/pre", "/mnt/x"]


def test_default_roots_are_the_data_dir_and_examples_not_the_filesystem(tmp_path):
    roots = Settings.from_env(environ={}, data_dir=tmp_path).allowed_source_roots()
    assert roots[0] == str(tmp_path) and roots[1].endswith("examples") and len(roots) == 2
    assert not is_within("/etc/passwd", roots)
    assert Settings.from_env(environ={}, data_dir=tmp_path).allowed_output_roots() == [str(tmp_path)]


def test_paths_are_resolved_and_confined(area, settings):
    allowed, _, secret = area
    roots = settings.allowed_source_roots()
    assert resolve_within(str(allowed / "clip.wav"), roots) == str((allowed / "clip.wav").resolve())
    assert resolve_within(str(allowed / "**" / "*.wav"), roots).endswith("/**/*.wav")
    with pytest.raises(AccessDenied, match="'..' is not allowed"):
        resolve_within(f"{allowed}/../secret/shadow", roots)
    with pytest.raises(AccessDenied, match="outside the allowed"):
        resolve_within(str(allowed / "escape" / "shadow"), roots)  # a symlink leading out
    with pytest.raises(AccessDenied):
        resolve_within(str(secret), roots)
    with pytest.raises(AccessDenied):
        resolve_within(str(allowed) + "-sibling/x", roots)  # a shared name prefix is not "under"
    assert resolve_within("s3://media/incoming/a.wav", roots) == "s3://media/incoming/a.wav"
    for uri in ("s3://media/incoming-other/a.wav", "s3://other/incoming/a.wav", "s3://media/incoming/../x.wav"):
        with pytest.raises(AccessDenied):
            resolve_within(uri, roots)


# --- launcher (library level) -------------------------------------------------------------
def test_a_reviewer_cannot_launch_a_job_even_through_the_library(db_url, settings, area):
    allowed, out, _ = area
    for who in ("alice", "carol", "nobody"):  # reviewer, lead, no account at all
        with pytest.raises(AccessDenied, match="operator or admin"):
            _launch(settings, db_url, who, str(allowed), str(out / "r"))
    assert launcher.list_launches(settings.data_dir) == []


def test_an_operator_cannot_escape_the_roots(db_url, settings, area, tmp_path):
    allowed, out, secret = area
    attempts = [
        (str(secret), str(out / "r")),  # source outside
        (str(allowed / "escape"), str(out / "r")),  # source through a symlink leading out
        (f"{allowed}/../secret", str(out / "r")),  # source with ..
        ("s3://elsewhere/x", str(out / "r")),  # bucket not allowed
        (str(allowed), str(secret / "r")),  # destination outside
        (str(allowed), str(allowed / "r")),  # the source root is not an output root
        (str(allowed), "s3://media/incoming/out"),  # nor is an S3 source prefix
    ]
    for source, dest in attempts:
        with pytest.raises(AccessDenied):
            _launch(settings, db_url, "olga", source, dest)
    assert launcher.list_launches(settings.data_dir) == []
    assert not os.path.exists(secret / "r")


def test_an_operator_launches_inside_the_roots_and_the_job_is_confined(db_url, settings, area):
    allowed, out, _ = area
    source = allowed / "not-yet"  # inside the roots; the job itself then fails fast (nothing to score)
    launch = _launch(settings, db_url, "olga", str(source), str(out / "r"), job_id="job-ok")
    os.waitpid(launch.pid, 0)
    assert launch.source == str(source.resolve()) and launch.dest == str((out / "r").resolve())
    # The job runs with the roots, so a manifest or link pointing outside them yields error rows there.
    assert parse_roots(launch.source_roots or "") == settings.allowed_source_roots()


# --- jobs page ---------------------------------------------------------------------------
def test_the_jobs_page_offers_no_submission_to_a_reviewer(db_url):
    at = app_as("alice", page="jobs")
    assert not at.exception
    assert "FormSubmitter:submit_job-Submit" not in [b.key for b in at.button]
    assert not [t for t in at.text_input if t.label == "Source"]
    assert any("Only operators and admins" in c.value for c in at.caption)


def test_a_forged_role_in_the_session_is_still_refused_by_the_launcher(db_url, area, monkeypatch):
    allowed, out, _ = area
    monkeypatch.setenv("VOXGUARD_SOURCE_ROOTS", str(allowed))
    monkeypatch.setenv("VOXGUARD_OUTPUT_ROOTS", str(out))
    at = app_as("alice", role="admin", page="jobs")  # the page believes the session; the database decides
    form = {t.label: t for t in at.text_input}
    form["Source"].input(str(allowed))
    form["Destination"].input(str(out / "r"))
    at.button(key="FormSubmitter:submit_job-Submit").click().run()
    assert not at.exception and not at.success
    assert "may not run scoring jobs" in at.error[0].value


def test_the_jobs_page_refuses_a_path_outside_the_roots_in_one_line(db_url, area, monkeypatch):
    allowed, out, secret = area
    monkeypatch.setenv("VOXGUARD_SOURCE_ROOTS", str(allowed))
    monkeypatch.setenv("VOXGUARD_OUTPUT_ROOTS", str(out))
    at = app_as("olga", role="operator", page="jobs")
    form = {t.label: t for t in at.text_input}
    form["Source"].input(str(secret))
    at.button(key="FormSubmitter:submit_job-Submit").click().run()
    assert not at.exception and not at.success
    (message,) = [e.value for e in at.error]
    assert "outside the allowed locations" in message and "\n" not in message


def test_review_audio_is_served_only_from_the_source_roots(area, settings):
    from dashboard.audio import fetch_audio

    allowed, _, secret = area
    roots, storage = settings.allowed_source_roots(), settings.storage_options
    assert fetch_audio(str(allowed / "clip.wav"), roots, storage, settings.max_file_bytes) == b"RIFF"
    for uri in (str(secret / "shadow"), str(allowed / "escape" / "shadow"), f"file://{secret}/shadow"):
        with pytest.raises(AccessDenied):
            fetch_audio(uri, roots, storage, settings.max_file_bytes)
