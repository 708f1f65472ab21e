"""Typed configuration and result of a training job."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from siamese.config import ModelConfig
from siamese.training import ClipSet, TrainConfig
from voxguard.storage import StorageOptions

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from siamese.package import ModelPackage

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_model_config() -> ModelConfig:
    """The bundled model's network: frozen Whisper tiny.en (conv stem + first block, both layers' rows
    stacked), mean and standard deviation over time, a linear projection to the embedding; 4 s windows.

    Why no conv blocks after the front-end: on the leave-family-out protocol the product's head on the
    pooled frozen layers transferred to unseen families better than the 2 x 256-channel 1-D CNN on the
    same layers (docs/model-card.md, 2 Dec night: mean EER 39.2 % vs 42.2 % with the generated spoofs,
    40.0 % vs 41.6 % without), at the same front-end cost (the encoder is 13 % cheaper per window).
    Whisper over the log-linear spectrogram CNN: the same protocol (42.2 % vs 51.8 %).
    """
    return ModelConfig().with_frontend("whisper").replace(
        frontend={"whisper_layers": "all"}, encoder={"channels": (), "pooling": "mean"})


@dataclass(frozen=True, kw_only=True)
class TrainJobConfig(TrainConfig):
    """Everything one training run needs: the optimisation settings it inherits from `TrainConfig`,
    plus data, cluster and reporting. Paths may be local; `storage_path` may be s3://."""

    manifest: Path
    out: Path
    model: ModelConfig = field(default_factory=default_model_config)
    num_workers: int = 2
    use_gpu: bool = False
    gpus_per_worker: float = 1.0
    cpus_per_worker: float = 1.0
    storage_path: str = str(REPO_ROOT / "var" / "train-runs")
    # Where an s3:// storage_path lives (endpoint override, region): the command's VOXGUARD_S3_* settings.
    storage_options: StorageOptions = field(default_factory=StorageOptions)
    name: str = "voxguard-train"
    # False: start afresh even when `storage_path/name` holds an earlier run (its folder is removed if local).
    resume: bool = True
    max_failures: int = 1
    # Fine-tune from this package's config and weights (transfer learning / retraining).
    init: Path | None = None
    # Extra training clips (e.g. reviewer feedback) and how much more often they are drawn.
    extra_train: ClipSet | None = None
    extra_weight: float = 1.0
    # Corpus augmented variants included in training (the ablation switches this off).
    augmentation: bool = True
    cache_dir: Path = REPO_ROOT / "var" / "cache" / "decoded"
    # Cross-corpus devset, for reporting only; skipped when the folder is absent.
    devset: Path | None = REPO_ROOT.parent / "shared" / "devset"
    ray_address: str = ""
    # Caps on dev / test clips (None: all), class-balanced: dev is scored every epoch, so it sets the epoch cost.
    max_dev_clips: int | None = None
    max_test_clips: int | None = None
    verbose: bool = True
    # Called on the driver with each epoch's report (epoch, loss, dev_eer, ...), e.g. to print progress.
    progress: Callable[[dict[str, Any]], None] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        # Ray Train and pyarrow need an absolute path or a URI: `--storage-path var/runs` must work too.
        if "://" not in self.storage_path:
            object.__setattr__(self, "storage_path", str(Path(self.storage_path).resolve()))


@dataclass
class TrainResult:
    """What a run produced."""

    package_path: Path
    version: str
    metrics: dict[str, Any]
    history: list[dict[str, float]]
    resumed_from_epoch: int | None
    wall_s: float
    run_dir: str
    # The package itself (so the caller does not read back the file just written), the test-split rows
    # it was evaluated on and its scores of them, in that order (the retraining gate reuses them).
    package: ModelPackage | None = field(default=None, repr=False, compare=False)
    test_rows: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    test_scores: np.ndarray | None = field(default=None, repr=False, compare=False)
