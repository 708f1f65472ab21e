"""Which model package a job uses: an explicit path, else the registry's production
model, else the bundled default. S3 artefacts are downloaded once to a local cache.

The bundled default stands in only when the registry is known to be empty (no
database yet, or no production model). A registry that cannot be read (server
down, wrong credentials) is an error, never a silent switch to another model:
scores from the wrong model look exactly like right ones.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from voxguard.errors import DatabaseError, InputNotFound
from voxguard.settings import Settings


class RegistryUnavailable(DatabaseError):
    """The feedback database could not be read, so which model is in production is unknown."""


def production_artefact(settings: Settings) -> str | None:
    """The production model's artefact URI from the feedback registry; None if nothing is registered.

    Raises `RegistryUnavailable` (one line, no password) when the database cannot be read.
    """
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from feedback.db import make_engine, session_factory
    from feedback.models import ModelVersion
    from feedback.registry import production

    url = settings.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None  # no database yet: nothing registered
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(ModelVersion.__tablename__):
                return None  # tables not created yet (no `voxguard db upgrade`): nothing registered
        with session_factory(engine)() as session:
            current = production(session)
            return current.artefact_uri if current is not None else None
    except SQLAlchemyError as error:
        where = make_url(url).render_as_string(hide_password=True)
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise RegistryUnavailable(f"cannot read the model registry at {where} ({reason}); "
                                  "pass --model PACKAGE to score without the registry") from error
    finally:
        engine.dispose()


def resolve_model(settings: Settings, explicit: str | Path | None = None) -> Path:
    """Local path of the package to use (see module docstring)."""
    uri = str(explicit) if explicit else (production_artefact(settings) or str(settings.model_path))
    return localise(uri, settings)


def localise(uri: str, settings: Settings) -> Path:
    """A local path for `uri`, downloading s3:// artefacts into data_dir/models-cache."""
    if not uri.startswith("s3://"):
        path = Path(uri)
        if not path.exists():
            raise InputNotFound(f"model package not found: {path}; pass --model PACKAGE or set VOXGUARD_MODEL")
        return path
    from jobs.score.storage import S3Options, read_bytes

    target = Path(settings.data_dir) / "models-cache" / (hashlib.sha1(uri.encode()).hexdigest()[:16] + ".vxpkg")
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        data = read_bytes(uri, S3Options(settings.s3_endpoint, settings.s3_region))
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return target
