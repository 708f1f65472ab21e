"""What a model package says about itself, read without torch.

Why a module of its own: the scoring job's driver needs a package's version, window
plan, calibration and operating point, never its weights; the scoring actors load
the weights themselves from the package file. Importing torch costs the driver
~0.5 GiB of RSS and ~4 s of start-up on a 2-core machine (docs/benchmarks.md), so
this module reads the metadata from the package file with the standard library.

A package is a `torch.save` zip archive whose pickle holds the metadata as a JSON
string beside the tensors. `read_meta_without_torch` unpickles that one record with
an unpickler that builds nothing but plain containers: every torch object (tensor,
storage) becomes an inert placeholder, and any other class is refused, so a crafted
file cannot run code here either (the same promise as `torch.load(weights_only=True)`).
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from siamese.calibration import Calibration, OperatingPoint
from siamese.config import ModelConfig
from siamese.errors import InvalidPackage

FORMAT = "voxguard-model"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class PackageMeta:
    """What a package says about itself, without its weights: enough to aggregate and explain.

    `config.audio` is the window plan (sample rate, window, hop); calibration and operating
    point turn window scores into a verdict (`siamese.verdict.VerdictRule.of(meta)`).
    """

    version: str
    config: ModelConfig
    calibration: Calibration
    operating_point: OperatingPoint
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)


def meta_from_json(text: str, source: str | Path) -> PackageMeta:
    """Parse and check the metadata record of a package (`source` names it in errors)."""
    try:
        meta = json.loads(text)
    except (TypeError, ValueError) as error:
        raise InvalidPackage(f"{source} is not a voxguard model package: {error}") from error
    if meta.get("format") != FORMAT or int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise InvalidPackage(f"{source}: unsupported package format {meta.get('format')!r} v{meta.get('format_version')}")
    config = meta["config"]
    # A package names the weights it needs; where they are is this machine's setting, never the file's:
    # a path inside a package could point the loader at any file (a FIFO, a huge blob).
    config.get("frontend", {}).pop("whisper_model_bin", None)
    return PackageMeta(
        version=meta["version"],
        config=ModelConfig.from_dict(config),
        calibration=Calibration.from_dict(meta["calibration"]),
        operating_point=OperatingPoint.from_dict(meta["operating_point"]),
        metrics=meta.get("metrics", {}),
        training=meta.get("training", {}),
    )


class _Inert:
    """Stands for any torch object in the pickle (a tensor or storage): holds nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass


class _MetaUnpickler(pickle.Unpickler):
    """Builds dicts, lists, strings and numbers; torch objects become `_Inert`; refuses the rest."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch" or module.startswith("torch."):
            return _Inert
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a model package")

    def persistent_load(self, pid: Any) -> Any:
        return None  # tensor storages live in other records of the archive: never read here


def read_meta_without_torch(path: str | Path) -> PackageMeta:
    """The metadata of the package at `path`, from its pickle record alone (no torch import).

    Raises `InvalidPackage` for anything that is not a voxguard package.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            records = [name for name in archive.namelist() if name.endswith("/data.pkl")]
            if len(records) != 1:
                raise ValueError("not a torch.save archive")
            payload = _MetaUnpickler(io.BytesIO(archive.read(records[0]))).load()
        text = payload["meta_json"]
    except InvalidPackage:
        raise
    except Exception as error:  # noqa: BLE001 - any failure means "not a package"
        raise InvalidPackage(f"{path} is not a voxguard model package: {error}") from error
    return meta_from_json(text, path)


@dataclass(frozen=True)
class PackageRef:
    """A package on this machine, by path, with its metadata: what the scoring job's driver holds.

    The scoring actors call `load()` (they import torch anyway); the driver never does.
    `whisper_model_bin` is this machine's location of the front-end's pretrained weights
    (the operator's setting, applied at load time); `enrolled` adds verified bona fide
    references per group for one job.
    """

    path: str
    meta: PackageMeta
    whisper_model_bin: str | None = None
    enrolled: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def open(cls, path: str | Path, whisper_model_bin: str | Path | None = None) -> "PackageRef":
        """Read `path`'s metadata (no weights, no torch)."""
        return cls(str(path), read_meta_without_torch(path), str(whisper_model_bin) if whisper_model_bin else None)

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def config(self) -> ModelConfig:
        return self.meta.config

    @property
    def calibration(self) -> Calibration:
        return self.meta.calibration

    @property
    def operating_point(self) -> OperatingPoint:
        return self.meta.operating_point

    def with_enrolled(self, group: str, references: np.ndarray) -> "PackageRef":
        """A copy that also carries `group`'s enrolled references."""
        return replace(self, enrolled={**self.enrolled, group: np.asarray(references, dtype=np.float32)})

    def load(self):  # type: ignore[no-untyped-def] # -> siamese.package.ModelPackage (imports torch)
        """The whole package (weights included), as this reference describes it."""
        from siamese.package import ModelPackage

        package = ModelPackage.load(self.path).use_weights_at(self.whisper_model_bin)
        if package.version != self.version:
            raise InvalidPackage(f"{self.path} changed while the job ran (version {package.version}, "
                                 f"expected {self.version})")
        package.enrolled.update(self.enrolled)
        return package
