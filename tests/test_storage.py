"""voxguard.storage: one backend per URL scheme, chosen by the URI; the same options everywhere."""

from __future__ import annotations

import os
import threading

import pytest

import voxguard.storage as storage
from voxguard.errors import InputError
from voxguard.storage import Backend, NotRegularFile, ObjectTooLarge, StorageOptions


def test_schemes():
    assert [storage.scheme(u) for u in ("s3://b/k", "/data/a.wav", "a.wav", "file:///x", "GS://b/k")] == [
        "s3", "", "", "file", "gs"]
    assert storage.is_remote("s3://b/k") and not storage.is_remote("file:///x") and not storage.is_remote("/x")


def test_local_paths_and_file_uris_read_the_same_bytes(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"abc")
    assert storage.read_bytes(str(path)) == storage.read_bytes(f"file://{path}") == b"abc"
    with pytest.raises(ObjectTooLarge):
        storage.read_bytes(str(path), max_bytes=2)
    fs, inside = storage.filesystem(f"file://{tmp_path}")
    assert inside == str(tmp_path.resolve()) and fs.get_file_info(f"{inside}/a.bin").size == 3


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "y.wav"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    reader = threading.Thread(target=lambda: outcome.append(pytest.raises(NotRegularFile, storage.read_bytes,
                                                                          str(fifo)).value), daemon=True)
    reader.start()
    reader.join(10)
    assert not reader.is_alive() and "fifo" in str(outcome[0])


def test_an_unknown_scheme_is_one_clear_error():
    with pytest.raises(InputError, match=r"unsupported storage scheme gs:// .*s3://"):
        storage.read_bytes("gs://bucket/a.wav")


class _Memory(Backend):
    """A test backend: objects in a dict, keyed by URI."""

    objects: dict[str, bytes] = {"mem://x/a": b"in memory"}

    def read_bytes(self, uri: str, max_bytes: int | None = None) -> bytes:
        return self.objects[uri]


def test_a_new_scheme_is_one_backend_class_and_one_registration(monkeypatch):
    monkeypatch.setitem(storage.BACKENDS, "mem", _Memory)
    monkeypatch.setattr(storage, "_loaded", {})
    assert storage.read_bytes("mem://x/a") == b"in memory"
    options = StorageOptions("http://127.0.0.1:9", "eu-west-1")
    assert storage.backend("mem://x/a", options).options is options  # every backend gets the command's options
