"""Which model package a job uses: the one rule for every command.

An explicit package (`--model`), else the registry's production model (the
champion), else the fallback (`VOXGUARD_MODEL`, by default the bundled model).
`voxguard score`, `score-file`, `enroll`, `bench` and retraining all resolve
their model here, through `voxguard.context.CommandContext.model_path`.
S3 artefacts are downloaded once to a local cache.

The fallback stands in only when the registry is known to be empty (no
database yet, or no production model). A registry that cannot be read (server
down, wrong credentials) is an error, never a silent switch to another model:
scores from the wrong model look exactly like right ones.

Arguments are explicit (a database engine or URL, the fallback path, a cache
folder, S3 options): this library does not read the service settings.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from voxguard.errors import DatabaseError, InputNotFound

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from voxguard.storage import StorageOptions


class RegistryUnavailable(DatabaseError):
    """The feedback database could not be read, so which model is in production is unknown."""


def production_artefact(registry: "str | Engine") -> str | None:
    """The production model's artefact URI from the registry at `registry` (a URL or an engine).

    None if nothing is registered. Raises `RegistryUnavailable` (one line, no password)
    when the database cannot be read. An engine passed in is used as is and left open
    (the command's one engine); a URL gets a short-lived engine of its own.
    """
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from feedback.db import make_engine, session_factory
    from feedback.models import ModelVersion
    from feedback.registry import production

    owned = isinstance(registry, str)
    url = registry if isinstance(registry, str) else registry.url.render_as_string(hide_password=False)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None  # no database yet: nothing registered
    engine = make_engine(url) if owned else registry
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(ModelVersion.__tablename__):
                return None  # tables not created yet (no `voxguard db upgrade`): nothing registered
        with session_factory(engine)() as session:
            current = production(session)
            return current.artefact_uri if current is not None else None
    except SQLAlchemyError as error:
        where = engine.url.render_as_string(hide_password=True)
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise RegistryUnavailable(f"cannot read the model registry at {where} ({reason}); "
                                  "pass --model PACKAGE to score without the registry") from error
    finally:
        if owned:
            engine.dispose()


def resolve_model(
    explicit: str | Path | None,
    *,
    registry: "str | Engine",
    fallback: str | Path,
    cache_dir: str | Path,
    s3: "StorageOptions | None" = None,
) -> Path:
    """Local path of the package to use: `explicit`, else the registry's production model, else `fallback`."""
    uri = str(explicit) if explicit else (production_artefact(registry) or str(fallback))
    return localise(uri, cache_dir, s3)


def localise(uri: str, cache_dir: str | Path, s3: "StorageOptions | None" = None) -> Path:
    """A local path for `uri`, downloading object-store (s3://) artefacts once into `cache_dir`."""
    from voxguard import storage

    if not storage.is_remote(uri):
        path = Path(uri.removeprefix("file://"))
        if not path.exists():
            raise InputNotFound(f"no model package at {path}; pass --model PACKAGE or set VOXGUARD_MODEL")
        return path
    target = Path(cache_dir) / (hashlib.sha1(uri.encode()).hexdigest()[:16] + ".vxpkg")
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        data = storage.read_bytes(uri, s3)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return target
