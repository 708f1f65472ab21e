"""Storage: bytes and pyarrow filesystems by URL scheme, one backend per scheme.

Why one module: scoring, training checkpoints, the dashboard's audio and model
packages all read or write "a path or a URI"; each used to check schemes and
build S3 clients its own way, and training's `s3://` checkpoints never saw the
endpoint setting. Here a URI's scheme picks a backend (`BACKENDS`: a local path
or `file://` → `local`, `s3://` → `s3`), and every backend honours the same
`StorageOptions` (the S3 endpoint override and region, from the command's settings).

Adding a scheme (gs://, az://) = one module with a `Backend` subclass + one line
in `BACKENDS`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from voxguard.storage.base import Backend, NotRegularFile, ObjectTooLarge, ReadResult, StorageOptions

if TYPE_CHECKING:
    import pyarrow.fs as pafs

__all__ = [
    "BACKENDS", "Backend", "NotRegularFile", "ObjectTooLarge", "StorageOptions",
    "backend", "filesystem", "is_remote", "read_bytes", "scheme",
]

# scheme -> "module:Class" (imported on first use) or a Backend class; "" is a plain local path.
BACKENDS: dict[str, "str | type[Backend]"] = {
    "": "voxguard.storage.local:LocalBackend",
    "file": "voxguard.storage.local:LocalBackend",
    "s3": "voxguard.storage.s3:S3Backend",
}
_loaded: dict[str, type[Backend]] = {}


def scheme(uri: str) -> str:
    """The URI's scheme ("s3" for s3://...), "" for a plain path."""
    head, sep, _ = str(uri).partition("://")
    return head.lower() if sep and head.isalnum() else ""


def is_remote(uri: str) -> bool:
    """True for object-store URIs (anything but a local path or file://)."""
    return scheme(uri) not in ("", "file")


def backend(uri: str, options: StorageOptions | None = None) -> Backend:
    """The backend for `uri`'s scheme, configured with `options`."""
    name = scheme(uri)
    if name not in _loaded:
        entry = BACKENDS.get(name)
        if entry is None:
            from voxguard.errors import InputError

            raise InputError(f"unsupported storage scheme {name}:// in {uri!r} (supported: local paths, "
                             + ", ".join(f"{s}://" for s in BACKENDS if s) + ")")
        if isinstance(entry, str):
            module, _, cls = entry.partition(":")
            entry = getattr(importlib.import_module(module), cls)
        _loaded[name] = entry
    return _loaded[name](options or StorageOptions())


def read_bytes(uri: str, options: StorageOptions | None = None, max_bytes: int | None = None) -> bytes:
    """A whole object's bytes; `ObjectTooLarge` over `max_bytes` (checked before reading it all)."""
    return backend(uri, options).read_bytes(uri, max_bytes)


def read_object(uri: str, options: StorageOptions | None = None, max_bytes: int | None = None) -> ReadResult:
    """A whole object's bytes and the version they came from (ETag on S3, mtime locally)."""
    return backend(uri, options).read_object(uri, max_bytes)


def filesystem(uri: str, options: StorageOptions | None = None) -> "tuple[pafs.FileSystem, str]":
    """A pyarrow filesystem and the path inside it (for Parquet, checkpoints, listings)."""
    return backend(uri, options).filesystem(uri)
