"""Model registry: promotion, rollback, and a real crash in the middle of a promotion."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from sqlalchemy.exc import IntegrityError

from feedback.db import make_engine, session_factory, session_scope
from feedback.models import ModelVersion
from feedback.registry import list_versions, production, promote, register_candidate, rollback


def _status(factory) -> dict[str, str]:
    with factory() as s:
        return {m.version: m.status for m in list_versions(s)}


def test_promote_and_rollback(db_url: str) -> None:
    engine = make_engine(db_url)
    f = session_factory(engine)
    try:
        with session_scope(f) as s:
            for v in ("v1", "v2", "v3"):
                register_candidate(s, v, f"s3://models/{v}.vxpkg", threshold=0.5, metrics={"eer": 0.1}, parent=None)
            assert production(s) is None
            promote(s, "v1", actor="lead")
        with session_scope(f) as s:
            promote(s, "v2", actor="lead")
        assert _status(f) == {"v1": "retired", "v2": "production", "v3": "candidate"}
        with session_scope(f) as s:
            assert rollback(s, actor="lead").version == "v1"
        assert _status(f)["v1"] == "production" and _status(f)["v2"] == "retired"
        with session_scope(f) as s:
            promote(s, "v3")
        with session_scope(f) as s:
            assert rollback(s).version == "v1"  # back to what served before v3
        with session_scope(f) as s:
            with pytest.raises(LookupError):
                promote(s, "nope")
        # The database itself refuses a second production row.
        with pytest.raises(IntegrityError):
            with session_scope(f) as s:
                s.get(ModelVersion, 2).status = "production"  # type: ignore[union-attr]
                s.flush()
    finally:
        engine.dispose()


def test_crash_between_retire_and_promote_keeps_old_production(db_url: str) -> None:
    engine = make_engine(db_url)
    f = session_factory(engine)
    with session_scope(f) as s:
        register_candidate(s, "champ", "file:///m/champ.vxpkg")
        register_candidate(s, "chall", "file:///m/chall.vxpkg")
        promote(s, "champ")
    # A separate process dies (os._exit: no cleanup, no rollback call) right after retiring the champion.
    code = textwrap.dedent(f"""
        import os
        from feedback.db import session_factory, session_scope
        from feedback.registry import promote
        f = session_factory({db_url!r})
        def crash(step):
            if step == "retired-old":
                os._exit(17)
        with session_scope(f) as s:
            promote(s, "chall", on_step=crash)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 17, proc.stderr
    assert _status(f) == {"champ": "production", "chall": "candidate"}
    with session_scope(f) as s:  # and the promotion works when nothing crashes
        promote(s, "chall")
    assert _status(f) == {"champ": "retired", "chall": "production"}
    engine.dispose()
