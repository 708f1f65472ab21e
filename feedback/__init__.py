"""Feedback loop: review queue, verdicts, model registry, retraining policy and scheduler.

Modules: `models` (schema), `db` (engines, migrations), `queue` (review queue,
verdicts, mismatches), `stats` (agreement), `reviewers`, `registry` (model
versions), `policy`, `lease`, `runs`, `scheduler`, `enrollment`, `audit`.
"""
