"""Benchmarks run by `voxguard bench ...` (tools of the command line, not library code)."""
