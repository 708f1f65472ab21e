"""Where a scoring job's read-decode-score calls run: Ray Data, or this process.

Both executors run the same work, `ClipScorer` calls over blocks of listed objects,
and yield the same per-piece tables (`SCORED_SCHEMA`) to the same driver
(`jobs.score.pipeline`): regrouping, verdicts, progress, Parquet parts and resume
do not know which one ran.

- `ray`: a Ray Data pipeline, on a cluster or an embedded local Ray. It scales out
  (one scoring actor per two cores, across nodes; GPU actors fed by decode tasks).
- `local`: a thread pool in this process, running the same calls a Ray actor runs
  on its threads. On a machine where Ray's plan is one CPU actor anyway (two cores
  or fewer), Ray adds only fixed costs on the same cores: starting Ray (5-9 s), its
  system processes and Ray Data's helpers (about 1.1 GiB RSS), the actor's own
  start-up (another 5 s to the first scored clip) and an object-store copy of
  every result. Measured on 2 cores in one run (docs/benchmarks.md): 400 files in
  12.1 s here against 28.5 s through Ray Data, and 1.1 GiB RSS instead of 2.5 GiB.

`auto` (the default) picks `local` exactly when Ray would run a single CPU actor on
this machine: no cluster address, no GPU, no explicit actor count, and at most
`CPU_CALLS_PER_ACTOR` cores. Everywhere else Ray's processes buy parallelism that
one Python process (one GIL) does not have.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cluster.local import resolve_address
from cluster.resources import CPU_CALLS_PER_ACTOR
from voxguard.errors import ConfigError

if TYPE_CHECKING:  # the CLI imports EXECUTORS at start-up: pyarrow only when scoring
    import pyarrow as pa

EXECUTORS = ("auto", "ray", "local")
# Calls queued per thread beyond the running one: the next block is ready when a thread
# frees up, and at most this many blocks of decoded audio wait in memory.
LOCAL_QUEUE_PER_THREAD = 1


def local_cpus() -> int:
    """Cores this process may run on (its affinity mask; a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def has_gpu() -> bool:
    """Whether this machine shows an NVIDIA device (without importing torch: this is the driver)."""
    return any(Path("/dev").glob("nvidia[0-9]*"))


def resolve_executor(choice: str, settings: Any, num_actors: int | None, cpus: int | None = None,
                     gpu: bool | None = None) -> str:
    """`ray` or `local` for `choice` ("auto" | "ray" | "local"); see the module docstring.

    `settings`: for its Ray address (`cluster.local.resolve_address`). An explicit
    `local` with a cluster address is a contradiction and is refused.
    """
    if choice not in EXECUTORS:
        raise ConfigError(f"unknown executor {choice!r}; choose from {', '.join(EXECUTORS)}")
    address = resolve_address(None, settings)
    cluster = address != ""
    if choice == "local" and cluster:
        raise ConfigError("--executor local scores in this process: it cannot run on the Ray cluster "
                          f"at {address} (drop --ray-address / RAY_ADDRESS, or use ray)")
    if choice != "auto":
        return choice
    cpus = local_cpus() if cpus is None else cpus
    gpu = has_gpu() if gpu is None else gpu
    single_actor = cpus <= CPU_CALLS_PER_ACTOR and not num_actors
    return "local" if single_actor and not cluster and not gpu else "ray"


def iter_local(
    blocks: list[list[dict[str, Any]]], scorer_kwargs: dict[str, Any], threads: int
) -> Iterator[pa.Table]:
    """Score `blocks` of listed objects on `threads` threads of this process; yield piece tables.

    One `ClipScorer` (one model) serves every thread, as one Ray actor serves its
    concurrent calls. Tables come out as calls finish (the driver regroups pieces by
    object, so order does not matter). Closing the generator early (an error in the
    driver) cancels the calls not started and waits for the running ones.
    """
    import pyarrow as pa

    from jobs.score.stages import ClipScorer

    # Loads the model here, once, and sets torch's per-call thread count, which the pool's
    # threads (started after it) inherit.
    scorer = ClipScorer(**scorer_kwargs)
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="voxguard-score")
    pending: set[Future[pa.Table]] = set()
    queued = iter(blocks)
    limit = threads * (1 + LOCAL_QUEUE_PER_THREAD)
    try:
        while True:
            for block in queued:
                pending.add(pool.submit(scorer, pa.Table.from_pylist(block)))
                if len(pending) >= limit:
                    break
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
