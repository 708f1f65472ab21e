"""The retraining job: champion -> fine-tuned challenger -> gate -> (maybe) promotion.

Steps, each recorded on the `RetrainRun` row:
1. champion = the registry's production model (the bundled model is registered
   as production the first time, so there is always something to roll back to);
2. feedback = verified reviewer verdicts, decoded; a stable part is held back;
3. challenger = the champion fine-tuned (Ray Train) on its training manifest
   plus the feedback clips, weighted so that a few dozen clips matter; its
   last epoch's weights are kept (same `seed`, same feedback: same challenger);
4. gate (`feedback.gate`): not worse on the fixed gate set (the manifest's test
   split), better on the held-back feedback;
5. the challenger is registered as a candidate and, if the gate agrees, promoted
   in one transaction. A crash before that leaves the champion serving.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from feedback import gate, registry, runs
from feedback.db import session_factory, session_scope
from feedback.models import RUN_FAILED, RUN_SUCCEEDED
from jobs.model_source import localise, production_artefact
from jobs.retrain.feedback_clips import load_feedback_clips
from jobs.score.storage import S3Options
from siamese.package import ModelPackage
from siamese.training import ClipSet, clip_scores
from voxguard.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainConfig:
    """Knobs of one retraining run (the policy deciding *when* lives in the database)."""

    run_id: int
    # Base training data; default: the manifest recorded in the champion package.
    manifest: Path | None = None
    holdback_fraction: float = 0.3
    feedback_weight: float = 8.0
    epochs: int = 4
    num_workers: int = 1
    use_gpu: bool = False
    gate_tolerance: float = 0.01
    # Cap on gate-set clips (None: the whole test split).
    max_gate_clips: int | None = 400
    seed: int = 0


@dataclass(frozen=True)
class RetrainOutcome:
    """What happened: the versions involved, the gate's verdict, whether it was promoted."""

    run_id: int
    champion: str
    challenger: str
    promoted: bool
    gate: dict[str, Any]
    challenger_path: Path


def run_retraining(config: RetrainConfig, settings: Settings | None = None, sessions: Any = None) -> RetrainOutcome:
    """Run one retraining (see module docstring); the run row ends succeeded or failed.

    `sessions`: the command's session factory (its one engine; `voxguard.context`), else one on the settings' URL.
    """
    settings = settings or Settings.from_env()
    factory = sessions if sessions is not None else session_factory(settings.database_url)
    with session_scope(factory) as session:
        runs.start_run(session, config.run_id)
    try:
        outcome = _retrain(config, settings, factory)
    except BaseException as error:
        with session_scope(factory) as session:
            runs.finish_run(session, config.run_id, RUN_FAILED, error=f"{type(error).__name__}: {error}")
        raise
    with session_scope(factory) as session:
        runs.finish_run(
            session,
            config.run_id,
            RUN_SUCCEEDED,
            gate=outcome.gate,
            champion=outcome.champion,
            challenger=outcome.challenger,
            metrics={"promoted": outcome.promoted},
        )
    return outcome


def _retrain(config: RetrainConfig, settings: Settings, factory: Any) -> RetrainOutcome:
    from jobs.train.config import TrainJobConfig
    from jobs.train.trainer import train

    champion_path, champion = _champion(settings, factory)
    manifest = config.manifest or _recorded_manifest(champion)
    s3 = S3Options(settings.s3_endpoint, settings.s3_region)
    with session_scope(factory) as session:
        feedback = load_feedback_clips(
            session, champion.config.audio, s3, config.holdback_fraction, seed=config.seed
        )
        runs.heartbeat(session, config.run_id)
    for skipped in feedback.skipped:
        log.warning("feedback clip skipped: %s", skipped)
    log.info("feedback: %d clips to train on, %d held back", len(feedback.train), len(feedback.heldback))

    out_dir = Path(settings.data_dir) / "models"
    cache_dir = Path(settings.data_dir) / "cache" / "decoded"
    result = train(
        TrainJobConfig(
            manifest=Path(manifest),
            out=out_dir / f"challenger-run{config.run_id}.vxpkg",
            init=champion_path,
            extra_train=feedback.train if len(feedback.train) else None,
            extra_weight=config.feedback_weight,
            epochs=config.epochs,
            # The last epoch's weights, all epochs run: the corpus dev split knows nothing of the
            # feedback, so picking (or stopping at) its best epoch often kept the first, warm-up
            # epoch and dropped what the feedback taught. The gate below is the model selection.
            keep_best=False,
            patience=config.epochs,
            num_workers=config.num_workers,
            use_gpu=config.use_gpu,
            storage_path=str(Path(settings.data_dir) / "retrain-runs"),
            name=f"retrain-run-{config.run_id}",
            resume=False,
            devset=None,
            cache_dir=cache_dir,
            seed=config.seed,
            ray_address=settings.ray_address,  # the command's settings, not a second read of the environment
            storage_options=s3,
            verbose=False,
        )
    )
    challenger_path = out_dir / f"{result.version}.vxpkg"
    Path(result.package_path).replace(challenger_path)
    challenger = ModelPackage.load(challenger_path)
    with session_scope(factory) as session:
        runs.heartbeat(session, config.run_id)

    gate_set = _gate_set(Path(manifest), champion, config, cache_dir)
    decision = gate.decide(
        _evidence(champion, gate_set, feedback.heldback),
        _evidence(challenger, gate_set, feedback.heldback),
        tolerance=config.gate_tolerance,
    )
    log.info("gate: %s", decision.reason)
    with session_scope(factory) as session:
        registry.register_candidate(
            session,
            challenger.version,
            str(challenger_path),
            threshold=challenger.operating_point.threshold,
            metrics=challenger.metrics,
            parent=champion.version,
            actor=f"retrain-run:{config.run_id}",
        )
    if decision.promote:
        with session_scope(factory) as session:
            registry.promote(session, challenger.version, actor=f"retrain-run:{config.run_id}")
    return RetrainOutcome(
        run_id=config.run_id,
        champion=champion.version,
        challenger=challenger.version,
        promoted=decision.promote,
        gate=decision.to_dict(),
        challenger_path=challenger_path,
    )


def _champion(settings: Settings, factory: Any) -> tuple[Path, ModelPackage]:
    """The production package; registers the bundled model as production if none is."""
    uri = production_artefact(factory.kw["bind"])  # the run's engine, not a second one
    if uri is None:
        path = Path(settings.model_path)
        package = ModelPackage.load(path)
        with session_scope(factory) as session:
            if registry.get_version(session, package.version) is None:
                registry.register_candidate(
                    session, package.version, str(path), threshold=package.operating_point.threshold,
                    metrics=package.metrics, actor="bootstrap",
                )
            registry.promote(session, package.version, actor="bootstrap")
        return path, package
    path = localise(uri, Path(settings.data_dir) / "models-cache", S3Options(settings.s3_endpoint, settings.s3_region))
    return path, ModelPackage.load(path)


def _recorded_manifest(package: ModelPackage) -> Path:
    recorded = package.training.get("manifest")
    if not recorded or not Path(recorded).exists():
        raise FileNotFoundError(
            "the production model does not name an available training manifest "
            f"({recorded!r}); pass --manifest with the corpus manifest to fine-tune on"
        )
    return Path(recorded)


def _gate_set(manifest: Path, champion: ModelPackage, config: RetrainConfig, cache_dir: Path) -> ClipSet:
    """The fixed gate set: the manifest's test split (never trained on), decoded once."""
    from jobs.train.data import decode_to_cache, eval_rows, rows_to_clipset
    from jobs.train.manifest import load_manifest

    frame = load_manifest(manifest)
    rows = eval_rows(frame, "test")
    if config.max_gate_clips is not None and len(rows) > config.max_gate_clips:
        rows = rows.sample(n=config.max_gate_clips, random_state=config.seed)
    rows, _ = decode_to_cache(rows.reset_index(drop=True), cache_dir, champion.config.audio)
    return rows_to_clipset(rows)


def _evidence(package: ModelPackage, gate_set: ClipSet, heldback: ClipSet) -> gate.ModelEvidence:
    network = package.build_network()
    device = torch.device("cpu")
    gate_scores = clip_scores(network, gate_set, device)
    held_scores = clip_scores(network, heldback, device) if len(heldback) else np.zeros(0)
    return gate.ModelEvidence(
        gate_scores=gate_scores,
        gate_labels=gate_set.labels,
        heldback_decisions=package.operating_point.decide_many(held_scores),
        heldback_prob_bonafide=np.asarray(package.calibration.prob_bonafide(held_scores)),
        heldback_labels=heldback.labels,
    )
