"""Resource plans for scoring actors and training workers, on made-up clusters."""

from __future__ import annotations

import pytest

from cluster.resources import fits, scoring_actor_pool, torch_backend, train_scaling

LAPTOP = {"CPU": 8.0, "memory": 16e9, "object_store_memory": 4e9}
ONE_GPU = {"CPU": 16.0, "GPU": 1.0}
FOUR_GPUS = {"CPU": 64.0, "GPU": 4.0, "accelerator_type:L4": 4.0}
TWO_CORES = {"CPU": 2.0}


def test_cpu_cluster_gets_fused_actors_running_concurrent_calls() -> None:
    plan = scoring_actor_pool(LAPTOP, None, 0.25, 64)
    assert plan == {
        "min_size": 4, "max_size": 4, "num_cpus": 2.0, "num_gpus": 0.0,
        "batch_size": 16,  # CPU_MAX_BATCH: one torch thread gains nothing from larger batches
        "device": "cpu", "torch_threads": 1, "calls_per_actor": 2,  # two calls at once per actor
        "fused": True,  # decode + score per actor
    }
    two = scoring_actor_pool(TWO_CORES, 0, 0.25, 8)  # a 2-core machine: one actor, both cores
    assert (two["min_size"], two["max_size"], two["calls_per_actor"], two["num_cpus"], two["batch_size"]) == (
        1, 1, 2, 2.0, 8)
    one = scoring_actor_pool({"CPU": 1.0}, None, 0.25, 8)
    assert (one["max_size"], one["calls_per_actor"], one["num_cpus"]) == (1, 1, 1.0)
    odd = scoring_actor_pool({"CPU": 3.0}, None, 0.25, 8)  # never more cores asked for than exist
    assert odd["max_size"] * odd["num_cpus"] <= 3.0
    threads = scoring_actor_pool(LAPTOP, None, 0.25, 8, threads_per_actor=2)
    assert (threads["max_size"], threads["calls_per_actor"], threads["torch_threads"]) == (2, 2, 2)
    fixed = scoring_actor_pool(LAPTOP, 2, 0.25, 8)  # a fixed pool of 2 shares the 8 cores through calls
    assert (fixed["max_size"], fixed["calls_per_actor"], fixed["torch_threads"], fixed["num_cpus"]) == (2, 4, 1, 4.0)
    per_core = scoring_actor_pool(TWO_CORES, 2, 0.25, 8)  # the previous layout, on request
    assert (per_core["max_size"], per_core["calls_per_actor"], per_core["num_cpus"]) == (2, 1, 1.0)
    # A head-only cluster with no CPUs (all on autoscaled workers) still gets one actor.
    assert scoring_actor_pool({}, None, 0.5, 8)["max_size"] == 1


def test_two_stage_layout_on_cpus_on_request() -> None:
    plan = scoring_actor_pool(TWO_CORES, None, 0.25, 8, fused=False)
    assert (plan["min_size"], plan["max_size"], plan["torch_threads"], plan["fused"]) == (1, 1, 2, False)
    assert scoring_actor_pool(LAPTOP, None, 0.25, 8, fused=False)["max_size"] == 4


@pytest.mark.parametrize(
    ("resources", "gpus_per_actor", "max_size"),
    [(ONE_GPU, 0.25, 4), (ONE_GPU, 1.0, 1), (FOUR_GPUS, 0.25, 16), (FOUR_GPUS, 0.5, 8),
     (FOUR_GPUS, 2.0, 2), ({"CPU": 8.0, "GPU": 1.0}, 0.3, 3)],
)
def test_fractional_gpu_actors_pack_onto_cards(resources, gpus_per_actor, max_size) -> None:
    plan = scoring_actor_pool(resources, None, gpus_per_actor, 128)
    assert plan["device"] == "cuda" and plan["fused"] is False  # decode tasks feed the GPU actors
    assert plan["num_gpus"] == gpus_per_actor
    assert (plan["min_size"], plan["max_size"]) == (1, max_size)
    # The pool at full size fits the GPUs it was sized from.
    assert fits({"GPU": plan["num_gpus"], "CPU": plan["num_cpus"]}, plan["max_size"], resources)


def test_explicit_actor_count_is_a_fixed_pool_even_beyond_current_size() -> None:
    # An autoscaling cluster may add the nodes: do not cap to what exists now.
    plan = scoring_actor_pool(ONE_GPU, 6, 0.25, 32)
    assert (plan["min_size"], plan["max_size"]) == (6, 6)
    assert not fits({"GPU": plan["num_gpus"]}, 6, ONE_GPU)


def test_zero_gpus_per_actor_runs_on_cpu_even_with_gpus() -> None:
    plan = scoring_actor_pool(FOUR_GPUS, None, 0.0, 16)
    assert plan["device"] == "cpu" and plan["num_gpus"] == 0.0
    assert plan["max_size"] * plan["calls_per_actor"] == 64  # every core runs a call


@pytest.mark.parametrize(
    ("num_actors", "gpus", "batch"), [(None, 1.5, 8), (None, -0.1, 8), (None, 0.5, 0), (-1, 0.5, 8)]
)
def test_invalid_scoring_requests_are_refused(num_actors, gpus, batch) -> None:
    with pytest.raises(ValueError):
        scoring_actor_pool(FOUR_GPUS, num_actors, gpus, batch)


def test_train_scaling_cpu_and_gpu() -> None:
    assert train_scaling(2, use_gpu=False) == {
        "num_workers": 2, "use_gpu": False, "resources_per_worker": {"CPU": 1.0},
    }
    assert train_scaling(4, use_gpu=True, gpus_per_worker=1, cpus_per_worker=4) == {
        "num_workers": 4, "use_gpu": True, "resources_per_worker": {"CPU": 4.0, "GPU": 1.0},
    }
    # One worker may use part of a card (e.g. next to a scoring run).
    assert train_scaling(1, True, 0.5)["resources_per_worker"]["GPU"] == 0.5
    assert torch_backend(True) == "nccl" and torch_backend(False) == "gloo"


@pytest.mark.parametrize(
    ("workers", "use_gpu", "gpus"), [(0, False, 1.0), (2, True, 0.5), (1, True, 0.0), (1, True, 1.5)]
)
def test_invalid_train_requests_are_refused(workers, use_gpu, gpus) -> None:
    with pytest.raises(ValueError):
        train_scaling(workers, use_gpu, gpus)


def test_train_scaling_builds_a_real_scaling_config() -> None:
    from ray.train import ScalingConfig

    cfg = ScalingConfig(**train_scaling(2, use_gpu=True, gpus_per_worker=1))
    assert cfg.num_workers == 2 and cfg.use_gpu
    assert cfg.resources_per_worker == {"CPU": 1.0, "GPU": 1.0}
