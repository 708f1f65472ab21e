"""The embedded local Ray every job starts by default."""

from __future__ import annotations

import os

import pytest

from cluster.local import (
    DEFAULT_OBJECT_STORE_CAP,
    GIB,
    MIN_OBJECT_STORE_BYTES,
    init_ray,
    object_store_bytes,
    resolve_address,
    shutdown_ray,
)
from voxguard.settings import Settings


def test_object_store_is_a_quarter_of_ram_capped_and_fits_shm() -> None:
    assert object_store_bytes(16 * GIB, 64 * GIB) == 4 * GIB
    assert object_store_bytes(256 * GIB, 256 * GIB) == DEFAULT_OBJECT_STORE_CAP
    assert object_store_bytes(16 * GIB, 2 * GIB) == int(2 * GIB * 0.9)
    # Docker's 64 MiB /dev/shm: Ray will use disk anyway, keep the RAM-based size.
    assert object_store_bytes(16 * GIB, 64 * 1024**2) == 4 * GIB
    assert object_store_bytes(100 * 1024**2, None) == MIN_OBJECT_STORE_BYTES


def test_address_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.9:6379")
    empty = Settings.from_env({})
    assert resolve_address(None, empty) == "10.0.0.9:6379"
    assert resolve_address(None, Settings.from_env({"VOXGUARD_RAY_ADDRESS": "h:1"})) == "h:1"
    assert resolve_address("ray://x:10001", empty) == "ray://x:10001"
    assert resolve_address("local", empty) == ""
    monkeypatch.delenv("RAY_ADDRESS")
    assert resolve_address(None, empty) == ""


def test_embedded_ray_is_bounded_and_idempotent(monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("VOXGUARD_RAY_ADDRESS", raising=False)
    assert not ray.is_initialized()
    try:
        handle = init_ray(num_cpus=1, object_store_memory=MIN_OBJECT_STORE_BYTES)
        assert handle.embedded
        assert handle.address.rsplit(":", 1)[1].isdigit()
        assert handle.resources["CPU"] == 1.0
        assert handle.resources["object_store_memory"] == pytest.approx(MIN_OBJECT_STORE_BYTES, rel=0.05)
        assert ray.get(ray.remote(lambda: 41 + 1).remote()) == 42
        # Its workers run at the driver's priority, not Ray's default +15 (on a busy
        # machine that starved the scoring actors: docs/benchmarks.md).
        assert ray.get(ray.remote(lambda: os.nice(0)).remote()) == os.nice(0)
        # Second call reuses the running Ray, whatever it is asked.
        again = init_ray(num_cpus=4)
        assert again.address == handle.address and again.resources["CPU"] == 1.0 and again.embedded
    finally:
        shutdown_ray()
    assert not ray.is_initialized()
