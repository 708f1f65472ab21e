"""Resource requests for scoring actors and training workers, as pure functions.

These take plain numbers and the `ray.cluster_resources()` dict, so the scaling
rules can be tested on any laptop with made-up clusters. The scoring job turns
the plan into `Dataset.map_batches(..., compute=ActorPoolStrategy(min_size,
max_size), num_cpus=..., num_gpus=..., batch_size=...)`; the training job into
`ScalingConfig(**train_scaling(...))` plus `TorchConfig(backend=torch_backend(...))`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from voxguard.errors import ConfigError

# Ray refuses fractional requests above one GPU (e.g. 1.5): a task either shares
# one device or owns whole devices.
_MAX_FRACTIONAL_GPU = 1.0
# CPU scoring: concurrent calls (threads) per actor, each decoding and scoring with one
# torch thread. Two fits any node with two cores; more would put more Python threads
# behind one GIL for less memory saved.
CPU_CALLS_PER_ACTOR = 2
# CPU scoring: windows per forward pass (see `scoring_actor_pool`).
CPU_MAX_BATCH = 16


def _check_gpu_amount(value: float, name: str) -> None:
    if value < 0:
        raise ConfigError(f"{name} must be >= 0, got {value}")
    if value > _MAX_FRACTIONAL_GPU and not float(value).is_integer():
        raise ConfigError(f"{name} above 1 must be a whole number of GPUs, got {value}")


def scoring_actor_pool(
    cluster_resources: Mapping[str, float],
    num_actors: int | None,
    gpus_per_actor: float,
    batch_size: int,
    threads_per_actor: int = 1,
    fused: bool | None = None,
) -> dict[str, object]:
    """Size the inference actor pool for a scoring run.

    `cluster_resources` is what `ray.cluster_resources()` returns ("CPU", "GPU", ...).
    `num_actors` None or 0 means automatic: on GPUs an autoscaling pool from 1 actor up
    to what the cluster's GPUs hold now; on CPUs a pool of one actor per
    `CPU_CALLS_PER_ACTOR` x `threads_per_actor` cores, each running `calls_per_actor`
    calls at once with `threads_per_actor` torch threads each. An explicit count gives a fixed pool of that size,
    uncapped, because an autoscaling cluster may still add the nodes it needs.
    `gpus_per_actor` is used only when the cluster has GPUs; fractions let several
    actors share one card (0.25 puts four model replicas on each GPU).

    Returns min_size/max_size (for `ActorPoolStrategy`), num_cpus/num_gpus per
    actor, batch_size (windows per forward pass; at most `CPU_MAX_BATCH` on CPUs),
    device ("cuda" or "cpu"), torch_threads per call, calls_per_actor (concurrent
    calls in one actor: `max_concurrent_calls_per_actor`), and
    `fused`: whether the actors also read and decode (CPU) or separate CPU tasks
    feed them (GPU). Passing `fused=False` on CPUs gives the two-stage layout
    (half the cores for decode tasks; kept for comparison in the benchmark).
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if num_actors is not None and num_actors < 0:
        raise ConfigError(f"num_actors must be >= 0 (0 = automatic), got {num_actors}")
    if threads_per_actor < 1:
        raise ConfigError(f"threads_per_actor must be >= 1, got {threads_per_actor}")
    _check_gpu_amount(gpus_per_actor, "gpus_per_actor")
    cpus = float(cluster_resources.get("CPU", 0.0))
    gpus = float(cluster_resources.get("GPU", 0.0))
    use_gpu = gpus > 0 and gpus_per_actor > 0

    if not use_gpu and fused is False:
        # Two stages on CPUs: about half the cores for the read/decode tasks, the
        # actors' torch threads sharing all of them (decode tasks interleave).
        capacity = max(1, math.floor(cpus / 2))
        min_size, max_size = (int(num_actors),) * 2 if num_actors else (1, capacity)
        return {
            "min_size": min_size, "max_size": max_size, "num_cpus": 1.0, "num_gpus": 0.0,
            "batch_size": int(batch_size), "device": "cpu",
            "torch_threads": max(1, math.floor(cpus / max_size)) if cpus else 1, "calls_per_actor": 1,
            "fused": False,
        }
    if use_gpu:
        # One CPU per actor feeds its GPU; the other CPUs run the read/decode tasks.
        num_gpus = float(gpus_per_actor)
        capacity = max(1, math.floor(gpus / num_gpus + 1e-9))
        min_size, max_size = (int(num_actors),) * 2 if num_actors else (1, capacity)
        torch_threads = 1
        num_cpus = 1.0
        calls = 1
    else:
        # CPUs: the model and the decoder share the cores, so each actor decodes its own
        # clips (fused). Parallelism comes from concurrent calls inside an actor (threads,
        # one torch thread each: torch and the decoders release the GIL), not from more
        # actors: every actor process costs ~1.1-1.2 GiB RSS (torch's import alone ~0.5 GiB
        # with the CUDA wheel, the model, its heap), and OpenMP threads inside one call wait
        # for each other at every op on a busy machine. Measured on 2 cores under load
        # (docs/benchmarks.md): one actor running two calls uses 1 GiB less than two
        # single-call actors and took 1.16x their wall time (`--num-actors 2` gives those).
        # All actors start at once (a pool growing one actor at a time idles cores).
        num_gpus = 0.0
        threads = int(threads_per_actor)
        if num_actors:  # a fixed pool: its actors share the cores through concurrent calls
            size = int(num_actors)
            calls = max(1, math.floor(cpus / (size * threads))) if cpus else 1
        else:
            calls = max(1, min(CPU_CALLS_PER_ACTOR, math.floor(cpus / threads))) if cpus else 1
            size = max(1, math.floor(cpus / (calls * threads))) if cpus else 1
        min_size = max_size = size
        torch_threads = threads
        num_cpus = float(min(calls * threads, cpus)) if cpus else 1.0
        # One thread gains nothing from large window batches (same time per window from 2
        # to 64 windows); smaller batches lower each call's peak memory.
        batch_size = min(batch_size, CPU_MAX_BATCH)
    return {
        "min_size": min_size,
        "max_size": max_size,
        "num_cpus": num_cpus,
        "num_gpus": num_gpus,
        "batch_size": int(batch_size),
        "device": "cuda" if use_gpu else "cpu",
        "torch_threads": torch_threads,
        "calls_per_actor": calls,
        "fused": not use_gpu,
    }


def train_scaling(
    num_workers: int,
    use_gpu: bool,
    gpus_per_worker: float = 1.0,
    cpus_per_worker: float = 1.0,
) -> dict[str, object]:
    """`ray.train.ScalingConfig` keyword arguments for data-parallel training.

    Each worker is one DistributedDataParallel rank. On GPUs, several ranks may
    not share one card (NCCL rejects two ranks on the same device), so a fraction
    of a GPU is accepted only for a single worker.
    """
    if num_workers < 1:
        raise ConfigError(f"num_workers must be >= 1, got {num_workers}")
    if cpus_per_worker <= 0:
        raise ConfigError(f"cpus_per_worker must be > 0, got {cpus_per_worker}")
    resources: dict[str, float] = {"CPU": float(cpus_per_worker)}
    if use_gpu:
        _check_gpu_amount(gpus_per_worker, "gpus_per_worker")
        if gpus_per_worker <= 0:
            raise ConfigError("--use-gpu needs gpus_per_worker > 0")
        if num_workers > 1 and gpus_per_worker < 1:
            raise ConfigError(
                "several DDP workers cannot share one GPU (NCCL); use gpus_per_worker >= 1"
            )
        resources["GPU"] = float(gpus_per_worker)
    return {
        "num_workers": int(num_workers),
        "use_gpu": bool(use_gpu),
        "resources_per_worker": resources,
    }


def torch_backend(use_gpu: bool) -> str:
    """Collective backend for DDP: NCCL between GPUs, gloo on CPUs."""
    return "nccl" if use_gpu else "gloo"


def fits(request: Mapping[str, float], count: int, cluster_resources: Mapping[str, float]) -> bool:
    """Whether `count` bundles of `request` fit in the cluster's current totals.

    A coarse check (it ignores how resources are split across nodes) used to warn
    before a run waits forever on a cluster that cannot autoscale.
    """
    return all(
        amount * count <= float(cluster_resources.get(name, 0.0)) + 1e-9
        for name, amount in request.items()
        if amount > 0
    )
