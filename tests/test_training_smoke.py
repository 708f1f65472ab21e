"""A short training run on a small separable synthetic set: the loss falls, EER ends below 10%."""

from __future__ import annotations

import numpy as np

from siamese import metrics
from siamese.detector import Detector

# Shared session fixtures (tiny trained package), registered once for the whole run.
pytest_plugins = ["fixtures_model"]


def test_loss_falls_and_eer_is_low(tiny_training):
    package, history = tiny_training
    losses = [record["loss"] for record in history]
    assert len(losses) >= 4
    assert np.mean(losses[-2:]) < 0.8 * np.mean(losses[:2]), losses
    assert history[-1]["dev_eer"] < 0.10 or min(r["dev_eer"] for r in history) < 0.10
    assert package.metrics["test"]["eer"] < 0.10


def test_package_records_training_and_calibration(tiny_training, tiny_sets):
    package, _ = tiny_training
    train = tiny_sets[0]
    assert package.training["n_train_clips"] == len(train)
    assert len(package.training["data_fingerprint"]) == 64
    point = package.operating_point
    assert point.abstain_low <= point.threshold <= point.abstain_high
    # Calibrated: bona fide test clips get a higher probability than spoof ones, via the one-call API.
    detector = Detector(package, device="cpu")
    test = tiny_sets[2]
    probs = np.array([detector.score(w, sample_rate=16000).prob_bonafide for w in test.waveforms])
    eer, _ = metrics.eer(probs, test.labels)
    assert eer < 0.10
    assert probs[test.labels == 1].mean() > 0.5 > probs[test.labels == 0].mean()
