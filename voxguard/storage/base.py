"""What every storage backend offers, and the options they share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow.fs as pafs


@dataclass(frozen=True)
class StorageOptions:
    """Where object stores live: S3 endpoint override ("" = AWS) and region. Hashable (clients are cached by it)."""

    endpoint: str = ""
    region: str = "us-east-1"


class ObjectTooLarge(Exception):
    """The object is bigger than the configured byte limit (raised before reading it all)."""


class NotRegularFile(OSError):
    """A FIFO, socket, device or folder where a file was expected: never read (a FIFO blocks forever)."""


class Backend:
    """One URL scheme: read whole objects, and hand out a pyarrow filesystem."""

    def __init__(self, options: StorageOptions) -> None:
        self.options = options

    def read_bytes(self, uri: str, max_bytes: int | None = None) -> bytes:
        """The object's bytes; `ObjectTooLarge` when over `max_bytes`."""
        raise NotImplementedError

    def filesystem(self, uri: str) -> "tuple[pafs.FileSystem, str]":
        """(filesystem, path inside it) for `uri`."""
        raise NotImplementedError
