"""Evaluation tools: experiments that train or score models to measure them, not the training job.

Each is a `python -m` entry point with a Makefile target:
- `jobs.evaluate.families` (`make eval-families`): leave-one-family-out generalisation;
- `jobs.evaluate.partial` (`make eval-partial`): partial (spliced) fakes, worst-segment AUC;
- `jobs.evaluate.ablation` (`make ablation`): design variants trained on the same data;
- `jobs.evaluate.probe` (`make probe`): how far frozen pretrained features go (linear probes).

They use the training job (`jobs.train`) as a library; nothing in `jobs.train` imports them.
"""
