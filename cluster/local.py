"""One way for every job to get a Ray: connect to a cluster, or start an embedded one.

`init_ray()` is what scoring, training and retraining call first. Without an
address it starts a private local Ray sized for a laptop: a bounded object store
(a quarter of RAM, capped), no dashboard, warnings-only logs, workers at the
driver's priority (Ray's default renices them by +15). With an address
(argument, the command's settings, i.e. `VOXGUARD_RAY_ADDRESS` read once by the
CLI, or Ray's own `RAY_ADDRESS`, which Ray sets for a job's driver on a cluster) it
connects instead, so the same code runs inside a submitted job unchanged.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from typing import Protocol

from voxguard.errors import ConfigError

GIB = 1024**3
# Ray's own floor for the plasma store; below it Ray refuses to start.
MIN_OBJECT_STORE_BYTES = 80 * 1024**2
# A laptop never needs more than this for streaming audio batches; big object
# stores only delay spilling and steal page cache from decoding.
DEFAULT_OBJECT_STORE_CAP = 8 * GIB
OBJECT_STORE_RAM_FRACTION = 0.25


class RaySettings(Protocol):
    """What Ray start-up reads from the command's settings (`voxguard.settings.Settings` fits).

    A protocol rather than the Settings class: this library never reads the environment's
    `VOXGUARD_*` itself; the command that read it passes it down.
    """

    @property
    def ray_address(self) -> str: ...


@dataclass(frozen=True)
class RayHandle:
    """What `init_ray` connected to."""

    address: str  # GCS address of the cluster ("127.0.0.1:PORT" when embedded)
    embedded: bool  # True when this process started its own local Ray
    resources: dict[str, float]  # ray.cluster_resources() at connect time


def object_store_bytes(
    total_ram: int, shm_free: int | None, cap: int = DEFAULT_OBJECT_STORE_CAP
) -> int:
    """Size of the embedded object store: 25% of RAM, capped, and fitting /dev/shm.

    Ray falls back to a (slow) disk-backed store when /dev/shm is smaller than the
    request, so we shrink to 90% of the free shm instead, unless shm is so tiny
    (a 64 MiB Docker default) that Ray would fall back anyway.
    """
    size = min(int(total_ram * OBJECT_STORE_RAM_FRACTION), cap)
    if shm_free is not None and int(shm_free * 0.9) >= MIN_OBJECT_STORE_BYTES:
        size = min(size, int(shm_free * 0.9))
    return max(size, MIN_OBJECT_STORE_BYTES)


def total_ram() -> int:
    """Memory this machine (or container, where Ray can tell) offers, in bytes."""
    try:  # cgroup-aware (containers), but private to Ray
        from ray._common.utils import get_system_memory

        return int(get_system_memory())
    except Exception:  # noqa: BLE001 - any failure falls back to the host total
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def shm_free() -> int | None:
    """Free bytes in /dev/shm, where Ray's object store lives; None if absent."""
    try:
        return shutil.disk_usage("/dev/shm").free
    except OSError:
        return None


def resolve_address(address: str | None = None, settings: RaySettings | None = None) -> str:
    """The Ray address to connect to, or "" for an embedded local Ray.

    Order: explicit argument, the command's `settings.ray_address` (`VOXGUARD_RAY_ADDRESS`),
    then `RAY_ADDRESS` (Ray's own variable, set by Ray for a submitted job's driver).
    "local" forces an embedded Ray even when an environment variable is set.
    """
    if address:
        return "" if address == "local" else address
    if settings is not None and settings.ray_address:
        return "" if settings.ray_address == "local" else settings.ray_address
    env = os.environ.get("RAY_ADDRESS", "")
    return "" if env == "local" else env


def init_ray(
    address: str | None = None,
    num_cpus: int | None = None,
    object_store_memory: int | None = None,
    *,
    num_gpus: int | None = None,
    include_dashboard: bool = False,
    log_to_driver: bool = True,
    settings: RaySettings | None = None,
) -> RayHandle:
    """Connect to Ray, starting an embedded local instance when no address is set.

    `settings`: the command's settings, for their `ray_address` (see `resolve_address`).

    Idempotent: when Ray is already initialised in this process it is reused as is
    (the arguments are then ignored), so library code can call it freely.
    """
    import ray

    if ray.is_initialized():
        return _handle(ray, embedded=_is_embedded(ray))

    # No phoning home, and no "usage stats" banner in our CLI output.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    target = resolve_address(address, settings)
    if target.startswith(("http://", "https://")):
        raise ConfigError(
            f"Ray address {target} is a Jobs API (dashboard) URL; ray.init needs the cluster's "
            "host:port (`voxguard cluster status` shows it) or ray://host:10001"
        )
    common = {
        "logging_level": logging.WARNING,
        # Worker output reaches the driver (errors must reach the user); quiet jobs
        # (corpus builds, retraining) turn it off.
        "log_to_driver": log_to_driver,
        "ignore_reinit_error": True,
    }
    if target:
        from cluster.auth import enable_token_auth_if_available

        # A token-auth cluster rejects a driver that has not opted in, even
        # with ~/.ray/auth_token present (Ray 2.60 checks too late).
        enable_token_auth_if_available()
        ray.init(address=target, **common)
        return _handle(ray, embedded=False)

    # Ray >= 2.59 turns token authentication on for a new local Ray (good: the embedded
    # Ray listens on 127.0.0.1 only, but other local users could still connect) and says
    # so at every start in a WARNING that asks nothing of the user: keep the auth, drop the line.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    ray.init(
        # "local" rather than None: None would join any cluster `ray start` left
        # on this machine (found through /tmp/ray), which is not what a laptop run wants.
        address="local",
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        object_store_memory=object_store_memory
        or object_store_bytes(total_ram(), shm_free()),
        include_dashboard=include_dashboard,
        # Ray renices its workers by +15 so that a driver stays responsive; here the workers
        # are the job (the driver only collects rows), and at +15 anything else on the machine
        # starved them: the scoring actors run at the priority the user gave the command.
        _system_config={"worker_niceness": 0},
        **common,
    )
    return _handle(ray, embedded=True)


def shutdown_ray() -> None:
    """Stop this process's Ray connection (and the embedded Ray, if it started one)."""
    import ray

    if ray.is_initialized():
        ray.shutdown()


def _is_embedded(ray_module) -> bool:  # type: ignore[no-untyped-def]
    # The driver's node is the head started by this process only in the embedded case.
    node = getattr(ray_module._private.worker.global_worker, "node", None)
    return bool(node is not None and getattr(node, "ray_init_cluster", False))


def _handle(ray_module, embedded: bool) -> RayHandle:  # type: ignore[no-untyped-def]
    ctx = ray_module.get_runtime_context()
    return RayHandle(
        address=ctx.gcs_address,
        embedded=embedded,
        resources={k: float(v) for k, v in ray_module.cluster_resources().items()},
    )
