"""voxguard: audio deepfake detection at archive scale.

The `voxguard` package holds only the command line and the runtime settings;
the model lives in `siamese`, the Ray workloads in `jobs`, the database in
`feedback`, the review UI in `dashboard` and cluster tooling in `cluster`.
"""

__version__ = "0.1.0"
