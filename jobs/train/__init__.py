"""Training job: manifest -> decoded cache -> Ray Train (DDP) -> calibrated model package.

Public API: `train(TrainJobConfig) -> TrainResult` (see `jobs.train.trainer`).
"""
