"""The model package: one versioned file holding everything needed to score.

Contents: weights, `ModelConfig`, calibration, operating point (threshold and
abstain band), metrics card(s), training record (objective, data fingerprint,
parent version) and enrolled bona fide references. Saved with `torch.save`
and loaded with `weights_only=True` (no pickled code runs on load); written
to a temporary file and renamed, so a crash never leaves a half-written package.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from siamese.calibration import Calibration, OperatingPoint
from siamese.config import ModelConfig
from siamese.errors import InvalidPackage
from siamese.network import SiameseNetwork
from siamese.package_meta import FORMAT, FORMAT_VERSION, PackageMeta, meta_from_json, read_meta_without_torch


@dataclass
class ModelPackage:
    """A trained detector and everything that explains its scores."""

    config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    calibration: Calibration
    operating_point: OperatingPoint
    version: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    enrolled: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.version:
            self.version = make_version(self.state_dict)

    def build_network(self) -> SiameseNetwork:
        """The network with these weights, in eval mode."""
        network = SiameseNetwork(self.config)
        network.load_state_dict(self.state_dict)
        return network.eval()

    def save(self, path: str | Path) -> Path:
        """Write atomically to `path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "config": _portable(self.config),
            "calibration": self.calibration.to_dict(),
            "operating_point": self.operating_point.to_dict(),
            "metrics": self.metrics,
            "training": self.training,
        }
        payload = {
            "meta_json": json.dumps(meta, sort_keys=True, default=_json_default),
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict.items()},
            "enrolled": {g: torch.from_numpy(np.asarray(e, dtype=np.float32)) for g, e in self.enrolled.items()},
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            torch.save(payload, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    def use_weights_at(self, whisper_model_bin: str | Path | None) -> "ModelPackage":
        """Point the front-end at this machine's copy of its pretrained weights (None: the installed default).

        The operator's setting (VOXGUARD_WHISPER_MODEL_BIN), applied by the command after loading;
        it travels with the package object (to Ray actors) but is never saved into a package file.
        """
        if whisper_model_bin:
            self.config = self.config.replace(frontend={"whisper_model_bin": str(whisper_model_bin)})
        return self

    @property
    def meta(self) -> "PackageMeta":
        """Everything but the weights and references."""
        return PackageMeta(self.version, self.config, self.calibration, self.operating_point,
                           self.metrics, self.training)

    @classmethod
    def load(cls, path: str | Path) -> "ModelPackage":
        """Read a package written by `save`; refuses other files with a clear error."""
        payload, meta = _read(path)
        return cls(
            config=meta.config,
            state_dict=payload["state_dict"],
            calibration=meta.calibration,
            operating_point=meta.operating_point,
            version=meta.version,
            metrics=meta.metrics,
            training=meta.training,
            enrolled={g: t.numpy() for g, t in payload.get("enrolled", {}).items()},
        )


def read_meta(path: str | Path) -> PackageMeta:
    """A package's metadata; no weights are read and no network is built (nor is torch needed)."""
    return read_meta_without_torch(path)


def _read(path: str | Path) -> tuple[dict[str, Any], PackageMeta]:
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
        text = payload["meta_json"]
    except Exception as error:  # noqa: BLE001 - any failure means "not a package"
        raise InvalidPackage(f"{path} is not a voxguard model package: {error}") from error
    return payload, meta_from_json(text, path)


def _portable(config: ModelConfig) -> dict[str, Any]:
    """The config as saved: without this machine's weights location (`use_weights_at`)."""
    data = config.to_dict()
    data["frontend"].pop("whisper_model_bin", None)
    return data


def make_version(state_dict: dict[str, torch.Tensor], when: dt.datetime | None = None) -> str:
    """`YYYYMMDD-<8 hex of the weights>`: sortable by date, unique per weights."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        digest.update(name.encode())
        digest.update(state_dict[name].detach().cpu().contiguous().numpy().tobytes())
    when = when or dt.datetime.now(dt.timezone.utc)
    return f"{when:%Y%m%d}-{digest.hexdigest()[:8]}"


def data_fingerprint(clip_ids: list[str]) -> str:
    """Order-independent fingerprint of the training data (sha256 of sorted clip ids)."""
    digest = hashlib.sha256()
    for clip_id in sorted(clip_ids):
        digest.update(clip_id.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
