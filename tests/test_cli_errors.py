"""User mistakes print one line on stderr and exit 2; bugs still raise.

Each case drives the real CLI (`main()` in-process, one case as a subprocess)
against real parts: SQLite files, a PostgreSQL URL nobody listens on, a Ray
Jobs URL nobody listens on, a moto S3 server process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures_s3 import s3_server  # noqa: F401
from tests.s3_server import MotoServer, free_port
from voxguard.cli import main
from voxguard.settings import REPO_ROOT

MODEL = REPO_ROOT / "models" / "voxguard-default.vxpkg"


@pytest.fixture(autouse=True)
def _no_ray_left_behind() -> Iterator[None]:
    """`voxguard score` in-process starts an embedded Ray; later test files must not inherit it."""
    yield
    from cluster.local import shutdown_ray

    shutdown_ray()


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("voxguard: error: ")
    assert "Traceback" not in err[0]
    return err[0]


@pytest.fixture()
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'errors.db'}"
    monkeypatch.setenv("VOXGUARD_DB_URL", url)
    assert main(["db", "upgrade"]) == 0
    return url


def test_adding_an_existing_reviewer(sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VOXGUARD_REVIEWER_PASSWORD", "pw")
    assert main(["review", "reviewers", "add", "ana"]) == 0
    capsys.readouterr()
    assert main(["review", "reviewers", "add", "ana"]) == 2
    assert "reviewer 'ana' already exists" in _one_error_line(capsys)


def test_promoting_an_unknown_model(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["models", "promote", "bogus"]) == 2
    assert "no model version 'bogus'" in _one_error_line(capsys)
    assert main(["models", "rollback"]) == 2
    assert "no production model" in _one_error_line(capsys)


def test_jobs_list_without_a_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["jobs", "list", "--address", url]) == 2
    line = _one_error_line(capsys)
    assert f"no Ray Jobs API answers at {url}" in line and "voxguard cluster up" in line


def test_database_down(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql+psycopg://voxguard@127.0.0.1:{free_port()}/voxguard"
    assert main(["db", "upgrade", "--url", url]) == 2
    assert "cannot reach the feedback database" in _one_error_line(capsys)
    assert main(["models", "list", "--db-url", url]) == 2
    assert "cannot reach the feedback database" in _one_error_line(capsys)


def test_database_never_migrated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--db-url", f"sqlite:///{tmp_path / 'blank.db'}", "list"]) == 2
    assert "voxguard db upgrade" in _one_error_line(capsys)


def test_unknown_alembic_revision(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["db", "upgrade", "--revision", "bogus"]) == 2
    assert "bogus" in _one_error_line(capsys)
    # A database migrated by a newer voxguard: its revision is unknown to this code.
    from sqlalchemy import create_engine, text

    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    engine.dispose()
    assert main(["db", "upgrade"]) == 2
    assert "9999_from_the_future" in _one_error_line(capsys)


def test_missing_bucket(s3_server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    assert main(["score", "s3://absent-bucket/clips/", "--out", str(tmp_path / "out"), "--model", str(MODEL),
                 "--no-feedback", "--s3-endpoint", s3_server.endpoint]) == 2
    line = _one_error_line(capsys)
    assert "NoSuchBucket" in line or "does not exist" in line


def test_wrong_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    # A private moto server that checks credentials (IAM authentication on from the first request).
    monkeypatch.setenv("INITIAL_NO_AUTH_ACTION_COUNT", "0")
    server = MotoServer().start()
    try:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG1")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        assert main(["score", "s3://any-bucket/clips/", "--out", str(tmp_path / "out"), "--model", str(MODEL),
                     "--no-feedback", "--s3-endpoint", server.endpoint]) == 2
        assert "InvalidAccessKeyId" in _one_error_line(capsys)
    finally:
        server.stop()


def test_a_real_process_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "VOXGUARD_DB_URL": f"sqlite:///{tmp_path / 'p.db'}"}
    run = subprocess.run([sys.executable, "-m", "voxguard", "models", "promote", "bogus"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [run.stderr.strip()]
    assert "voxguard db upgrade" in run.stderr  # never migrated: the hint, not a traceback


def test_bugs_are_not_explained() -> None:
    """Only known user mistakes become one line: a plain ValueError or KeyError stays a traceback."""
    from voxguard.explain import explain

    assert explain(ValueError("a bug")) is None
    assert explain(KeyError("a bug")) is None
    assert explain(FileNotFoundError("a bug")) is None


def test_running_an_unknown_retraining_run(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    # The scheduler passes --run-id; a wrong id (or a run deleted meanwhile) is one line, not a LookupError traceback.
    assert main(["retrain", "--run-id", "999"]) == 2
    assert "no retraining run 999" in _one_error_line(capsys)
