"""Bulk scoring: list an archive, score every object with Ray Data, write Parquet.

Entry point: `jobs.score.pipeline.run_scoring(...)`; the CLI is `voxguard score`.
"""
