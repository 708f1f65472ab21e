"""The retraining job: champion -> fine-tuned challenger -> gate -> (maybe) promotion.

Steps, each recorded on the `RetrainRun` row:
0. preflight (`preflight`): enough verified feedback, and base data to fine-tune
   on (`jobs.retrain.base_data`: --manifest, the champion's recorded corpus, or
   the bundled sample set with a warning); a `PreconditionError` is one line;
1. champion = the registry's production model (the bundled model is registered
   as production the first time, so there is always something to roll back to);
2. feedback = verified reviewer verdicts, read in a short session and decoded after it
   is closed (decoding holds no database lock); a stable part is held back;
3. challenger = the champion fine-tuned (Ray Train) on the base data plus the
   feedback clips, weighted so that a few dozen clips matter; its last epoch's
   weights are kept (same `seed`, same feedback: same challenger); each epoch
   is reported (loss, dev EER, ETA) and heart-beats the run;
4. gate (`feedback.gate`): not worse on the fixed gate set (the manifest's test
   split, at most `max_gate_clips`: the split the challenger's card is evaluated on,
   so the challenger's scores of it are reused, not computed twice), better on the
   held-back feedback;
5. the challenger is registered as a candidate and, if the gate agrees, promoted,
   in one transaction (`record_challenger`): a crash before or during it leaves the
   champion serving and no half-recorded challenger.
The champion package is read once on the driver and handed to the trainer.
The outcome (or the failure) is also sent as a `retrain.finished` / `retrain.failed` alert.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from feedback import alerts, gate, registry, runs
from feedback.db import session_factory, session_scope
from feedback.models import RUN_FAILED, RUN_SUCCEEDED
from feedback.policy import RETRY_RULE
from feedback.queue import verified_feedback
from jobs.model_source import localise, production_artefact
from jobs.retrain.base_data import BaseData, resolve_base_data
from jobs.retrain.feedback_clips import load_feedback_clips
from jobs.retrain.progress import EpochProgress
from siamese.calibration import decision_rule
from siamese.package import ModelPackage
from siamese.training import ClipSet, clip_scores
from voxguard.errors import UserError, VoxguardError
from voxguard.storage import StorageOptions

log = logging.getLogger(__name__)

# Held-back clips the gate needs to see an improvement, and the least feedback worth a run
# (that many held back, as many to learn from).
MIN_HELDBACK = 2
MIN_FEEDBACK = 2 * MIN_HELDBACK


class RetrainSettings(Protocol):
    """What a retraining reads from the command's settings (`voxguard.settings.Settings` fits).

    A protocol: `jobs` never imports the settings module; `voxguard retrain` reads the
    configuration once and passes it down.
    """

    @property
    def database_url(self) -> str: ...  # when no session factory is passed
    @property
    def data_dir(self) -> Path: ...  # decoded-clip cache, run folders, challenger packages
    @property
    def model_path(self) -> Path: ...  # the champion when the registry has none
    @property
    def ray_address(self) -> str: ...  # the cluster the fine-tuning runs on
    @property
    def storage_options(self) -> StorageOptions: ...  # object store of s3:// clips and packages


class PreconditionError(UserError):
    """A retraining cannot start (too little feedback, no base data); the message says what to do."""


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
    # Cap on gate-set clips (None: the whole test split), class-balanced; also caps the challenger card's test split.
    max_gate_clips: int | None = 400
    seed: int = 0
    # Batches per epoch (None: one pass over the training clips); small values make a quick trial run.
    batches_per_epoch: int | None = None


@dataclass(frozen=True)
class RetrainOutcome:
    """What happened: the versions involved, the gate's verdict, whether it was promoted."""

    run_id: int
    champion: str
    challenger: str
    promoted: bool
    gate: dict[str, Any]
    challenger_path: Path
    n_feedback_train: int = 0
    wall_s: float = 0.0


def run_retraining(config: RetrainConfig, settings: RetrainSettings,
                   report: Callable[[str], None] | None = None, sessions: Any = None) -> RetrainOutcome:
    """Run one retraining (see module docstring); the run row ends succeeded or failed.

    `report` receives human progress lines (preconditions, each epoch with loss,
    dev EER and ETA, the gate); None keeps the job quiet apart from logging.
    `sessions`: the command's session factory (its one engine; `voxguard.context`), else one on the settings' URL.
    """
    say = report or (lambda line: log.info("%s", line))
    factory = sessions if sessions is not None else session_factory(settings.database_url)
    with session_scope(factory) as session:
        runs.start_run(session, config.run_id)
    try:
        ready = preflight(config, settings, factory)
        say(ready.summary())
        if ready.base.warning:
            say(f"warning: {ready.base.warning}")
        outcome = _retrain(config, settings, factory, ready, say)
    except BaseException as error:
        message = str(error) if isinstance(error, VoxguardError) else f"{type(error).__name__}: {error}"
        message = message.splitlines()[0] if message else type(error).__name__
        with session_scope(factory) as session:
            runs.finish_run(session, config.run_id, RUN_FAILED, error=message)
        alerts.retrain_failed(factory, config.run_id, message, RETRY_RULE)
        raise
    with session_scope(factory) as session:
        runs.finish_run(
            session,
            config.run_id,
            RUN_SUCCEEDED,
            gate=outcome.gate,
            champion=outcome.champion,
            challenger=outcome.challenger,
            metrics={"promoted": outcome.promoted, "base_data": ready.base.describe(),
                     "n_feedback_train": outcome.n_feedback_train, "wall_s": round(outcome.wall_s, 1)},
        )
    alerts.retrain_finished(factory, config.run_id, outcome.promoted, outcome.champion, outcome.challenger,
                            outcome.gate["reason"])
    return outcome


@dataclass(frozen=True)
class Preflight:
    """What a run will use, checked before any training starts."""

    champion_path: Path
    champion: ModelPackage
    base: BaseData
    n_feedback: int

    def summary(self) -> str:
        return (f"champion {self.champion.version}; {self.n_feedback} verified feedback clips; "
                f"base data: {self.base.describe()}")


def preflight(config: RetrainConfig, settings: RetrainSettings, factory: Any) -> Preflight:
    """Check the preconditions (enough verified feedback, base data present); one-line `PreconditionError`."""
    with session_scope(factory) as session:
        feedback_uris = {uri for uri, _, _ in verified_feedback(session)}
    if len(feedback_uris) < MIN_FEEDBACK:
        raise PreconditionError(
            f"only {len(feedback_uris)} clips have a verified verdict; retraining needs at least {MIN_FEEDBACK} "
            f"({MIN_HELDBACK} held back to judge the challenger, the rest to learn from): review more clips "
            "(`voxguard review list`, the dashboard) and run it again"
        )
    champion_path, champion = _champion(settings, factory)
    base = resolve_base_data(config.manifest, champion.training.get("manifest"),
                             Path(settings.data_dir) / "retrain", frozenset(feedback_uris))
    _check_manifest(base.manifest)
    return Preflight(champion_path, champion, base, len(feedback_uris))


def _check_manifest(path: Path) -> None:
    """The base manifest loads, with train and dev rows of both classes (what training needs)."""
    from jobs.train.manifest import load_manifest

    try:
        frame = load_manifest(path)
    except (ValueError, OSError, KeyError) as error:
        raise PreconditionError(f"the base training manifest cannot be used: {error}") from error
    for split in ("train", "dev"):
        if set(frame.loc[frame["split"] == split, "label"]) != {"bonafide", "spoof"}:
            raise PreconditionError(f"the base training manifest {path} has no {split} rows of both classes")


def _retrain(config: RetrainConfig, settings: RetrainSettings, factory: Any, ready: Preflight,
             say: Callable[[str], None]) -> RetrainOutcome:
    from jobs.train.config import TrainJobConfig
    from jobs.train.data import rows_to_clipset
    from jobs.train.trainer import train

    started = time.monotonic()
    champion_path, champion, manifest = ready.champion_path, ready.champion, ready.base.manifest
    s3 = settings.storage_options
    with session_scope(factory) as session:
        verdicts = verified_feedback(session)
        runs.heartbeat(session, config.run_id)
    # Decoded after the session is closed: no database lock is held while the clips are read.
    feedback = load_feedback_clips(
        verdicts, champion.config.audio, s3, config.holdback_fraction, min_heldback=MIN_HELDBACK, seed=config.seed,
    )
    for skipped in feedback.skipped:
        say(f"feedback clip skipped: {skipped}")
    if len(feedback.heldback) < MIN_HELDBACK or not len(feedback.train):
        raise PreconditionError(
            f"only {len(feedback.train) + len(feedback.heldback)} feedback clips could be read "
            f"({len(feedback.skipped)} skipped); retraining needs at least {MIN_FEEDBACK}"
        )
    say(f"feedback: {len(feedback.train)} clips to train on, {len(feedback.heldback)} held back for the gate")

    out_dir = Path(settings.data_dir) / "models"
    cache_dir = Path(settings.data_dir) / "cache" / "decoded"
    progress = EpochProgress(config.epochs, say, lambda: _heartbeat(factory, config.run_id))
    result = train(
        TrainJobConfig(
            manifest=Path(manifest),
            out=out_dir / f"challenger-run{config.run_id}.vxpkg",
            init=champion_path,
            extra_train=feedback.train,
            extra_weight=config.feedback_weight,
            epochs=config.epochs,
            batches_per_epoch=config.batches_per_epoch,
            max_test_clips=config.max_gate_clips,  # the card's test split is the gate set
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
            # The champion's decision policy: a challenger judged at another kind of threshold would
            # change what "flagged" means for reviewers the day it is promoted.
            operating_point=champion.training.get("operating_point", "cost"),
            target_frr=float(champion.training.get("target_frr", 0.05)),
            ray_address=settings.ray_address,  # the command's settings, not a second read of the environment
            storage_options=s3,
            verbose=False,
            progress=progress,
        ),
        init=champion,  # read once, in preflight
    )
    challenger_path = out_dir / f"{result.version}.vxpkg"
    Path(result.package_path).replace(challenger_path)
    challenger = result.package if result.package is not None else ModelPackage.load(challenger_path)
    _heartbeat(factory, config.run_id)

    say("gate: scoring the champion on the gate set, both models on the held-back feedback")
    gate_set = rows_to_clipset(result.test_rows)  # the rows the challenger's test card was computed on
    decision = gate.decide(
        _evidence(champion, gate_set, feedback.heldback),
        _evidence(challenger, gate_set, feedback.heldback, gate_scores=result.test_scores),
        tolerance=config.gate_tolerance,
        min_heldback=MIN_HELDBACK,
    )
    log.info("gate: %s", decision.reason)
    record_challenger(factory, challenger, challenger_path, champion.version, decision.promote,
                      actor=f"retrain-run:{config.run_id}")
    return RetrainOutcome(
        run_id=config.run_id,
        champion=champion.version,
        challenger=challenger.version,
        promoted=decision.promote,
        gate=decision.to_dict(),
        challenger_path=challenger_path,
        n_feedback_train=len(feedback.train),
        wall_s=time.monotonic() - started,
    )


def record_challenger(factory: Any, challenger: ModelPackage, path: Path, champion_version: str, promote: bool,
                      actor: str, on_step: Callable[[str], None] | None = None) -> None:
    """Register the challenger as a candidate and, if `promote`, make it production: one transaction.

    Either both are committed or neither: a failure while promoting (`on_step` is the registry's hook,
    where a test injects one) rolls the registration back too, and the champion keeps serving.
    """
    with session_scope(factory) as session:
        registry.register_candidate(
            session,
            challenger.version,
            str(path),
            threshold=challenger.operating_point.threshold,
            metrics={**challenger.metrics,
                     "operating_point": decision_rule(challenger.calibration, challenger.operating_point)},
            parent=champion_version,
            actor=actor,
        )
        if promote:
            registry.promote(session, challenger.version, actor=actor, on_step=on_step)


def _heartbeat(factory: Any, run_id: int) -> None:
    with session_scope(factory) as session:
        runs.heartbeat(session, run_id)


def _champion(settings: RetrainSettings, factory: Any) -> tuple[Path, ModelPackage]:
    """The production package; registers the bundled model as production if none is."""
    uri = production_artefact(factory.kw["bind"])  # the run's engine, not a second one
    if uri is None:
        path = Path(settings.model_path)
        package = ModelPackage.load(path)
        with session_scope(factory) as session:
            if registry.get_version(session, package.version) is None:
                registry.register_candidate(
                    session, package.version, str(path), threshold=package.operating_point.threshold,
                    metrics={**package.metrics,
                             "operating_point": decision_rule(package.calibration, package.operating_point)},
                    actor="bootstrap",
                )
            registry.promote(session, package.version, actor="bootstrap")
        return path, package
    path = localise(uri, Path(settings.data_dir) / "models-cache", settings.storage_options)
    return path, ModelPackage.load(path)


def _evidence(package: ModelPackage, gate_set: ClipSet, heldback: ClipSet,
              gate_scores: np.ndarray | None = None) -> gate.ModelEvidence:
    """The package's scores of the gate set (`gate_scores` when already computed) and of the held-back clips."""
    network = package.build_network()
    device = torch.device("cpu")
    if gate_scores is None or len(gate_scores) != len(gate_set):
        gate_scores = clip_scores(network, gate_set, device)
    held_scores = clip_scores(network, heldback, device) if len(heldback) else np.zeros(0)
    return gate.ModelEvidence(
        gate_scores=gate_scores,
        gate_labels=gate_set.labels,
        heldback_decisions=package.operating_point.decide_many(held_scores),
        heldback_prob_bonafide=np.asarray(package.calibration.prob_bonafide(held_scores)),
        heldback_labels=heldback.labels,
    )
