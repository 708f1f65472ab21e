"""What a scoring job reads from the command's settings, declared as a protocol.

Why a protocol: `jobs` never imports `voxguard.settings` (the import-linter contract
`settings-leaf`); the command reads the configuration once (`voxguard.context`) and
passes its `Settings` down, which fits this protocol as it is. A test or another
caller can pass any object with these attributes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from voxguard.storage import StorageOptions


class ScoringSettings(Protocol):
    """The configuration `jobs.score.pipeline.run_scoring` uses (see `voxguard.settings.Settings`)."""

    @property
    def data_dir(self) -> Path: ...  # cache of exported inference engines
    @property
    def model_path(self) -> Path: ...  # model when the caller passes none
    @property
    def ray_address(self) -> str: ...  # the cluster to run on ("" : an embedded Ray)
    @property
    def whisper_model_bin(self) -> str: ...  # this machine's Whisper weights ("" : the installed default)
    @property
    def engine(self) -> str: ...
    @property
    def executor(self) -> str: ...  # auto | ray | local (jobs.score.executors)
    @property
    def batch_size(self) -> int: ...
    @property
    def num_actors(self) -> int: ...
    @property
    def gpus_per_actor(self) -> float: ...
    @property
    def max_file_bytes(self) -> int: ...
    @property
    def max_duration_s(self) -> float: ...
    @property
    def decode_timeout_s(self) -> float: ...
    @property
    def source_roots(self) -> str: ...  # objects outside these become error rows
    @property
    def storage_options(self) -> StorageOptions: ...
