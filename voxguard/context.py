"""One context per command: settings, storage options, one database engine, the model, Ray.

Why: before this, a scoring command opened three database engines (the model
registry, the feedback sink, the group bank), each job re-read the environment,
and the default model depended on the command. A `CommandContext` is built once
by a command from its `Settings` (the only reader of the environment) and what it
hands out is created on first use and then reused: the engine and its session
factory, the migration, the resolved model path and its loaded package, the Ray
connection. Libraries receive these pieces as explicit arguments.

Use it as a context manager so the engine is disposed when the command ends:

    with CommandContext(Settings.from_env(db_url=args.db_url)) as ctx:
        package = ctx.package(args.model)
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voxguard.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from cluster.local import RayHandle
    from voxguard.storage import StorageOptions
    from siamese.package import ModelPackage
    from siamese.package_meta import PackageMeta, PackageRef


class CommandContext:
    """What one command needs, each piece built once (see module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._migrated = False
        self._models: dict[str, Path] = {}
        self._packages: dict[Path, "ModelPackage"] = {}
        self._ray: "RayHandle | None" = None

    # --- storage ---------------------------------------------------------------------------

    @cached_property
    def storage(self) -> "StorageOptions":
        """Where object stores live (S3 endpoint override and region), for every `voxguard.storage` call."""
        return self.settings.storage_options

    # --- database --------------------------------------------------------------------------

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    @cached_property
    def engine(self) -> "Engine":
        """The command's one engine on the feedback database (created on first use)."""
        from feedback.db import make_engine

        return make_engine(self.database_url)

    @cached_property
    def sessions(self) -> "sessionmaker[Session]":
        """Session factory bound to `engine`."""
        from feedback.db import session_factory

        return session_factory(self.engine)

    def migrate(self) -> None:
        """Bring the database schema to head, once per command, on the command's engine."""
        if not self._migrated:
            from feedback.db import upgrade

            upgrade(self.engine)
            self._migrated = True

    # --- model -----------------------------------------------------------------------------

    def model_path(self, explicit: str | Path | None = None) -> Path:
        """The one default-model rule: `explicit`, else the registry's champion, else the fallback.

        The fallback is `VOXGUARD_MODEL`, by default the bundled model. Resolved once per
        command for each `explicit` value.
        """
        key = str(explicit or "")
        if key not in self._models:
            from jobs.model_source import resolve_model

            self._models[key] = resolve_model(
                explicit,
                registry=self.engine if self._database_exists() else self.database_url,
                fallback=self.settings.model_path,
                cache_dir=Path(self.settings.data_dir) / "models-cache",
                s3=self.storage,
            )
        return self._models[key]

    def package(self, explicit: str | Path | None = None) -> "ModelPackage":
        """The resolved model package, loaded once per command."""
        path = self.model_path(explicit)
        if path not in self._packages:
            from siamese.package import ModelPackage

            # The weights location is this machine's setting, applied here (never read from the file).
            self._packages[path] = ModelPackage.load(path).use_weights_at(self.settings.whisper_model_bin or None)
        return self._packages[path]

    def model_meta(self, explicit: str | Path | None = None) -> "PackageMeta":
        """The resolved package's metadata, without loading its weights or building the network."""
        path = self.model_path(explicit)
        if path in self._packages:
            return self._packages[path].meta
        from siamese.package_meta import read_meta_without_torch

        return read_meta_without_torch(path)

    def model_ref(self, explicit: str | Path | None = None) -> "PackageRef":
        """The resolved package by path, with its metadata: what a Ray job's driver needs (no torch).

        The job's workers load the weights from the path, at this machine's weights location.
        """
        from siamese.package_meta import PackageRef

        return PackageRef(str(self.model_path(explicit)), self.model_meta(explicit),
                          self.settings.whisper_model_bin or None)

    # --- Ray -------------------------------------------------------------------------------

    def ray(self, **kwargs: Any) -> "RayHandle":
        """Connect to the configured Ray (or start the embedded one), once per command."""
        if self._ray is None:
            from cluster.local import init_ray

            self._ray = init_ray(settings=self.settings, **kwargs)
        return self._ray

    # --- lifetime --------------------------------------------------------------------------

    def _database_exists(self) -> bool:
        """False for a SQLite file not yet created: reading the registry then must not create it."""
        url = self.database_url
        return not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).exists() \
            or "engine" in self.__dict__

    def close(self) -> None:
        """Dispose of the engine if one was created (Ray is left to the process)."""
        engine = self.__dict__.pop("engine", None)
        self.__dict__.pop("sessions", None)
        if engine is not None:
            engine.dispose()

    def __enter__(self) -> "CommandContext":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
