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


@dataclass(frozen=True)
class ReadResult:
    """The bytes of one object and the version they came from.

    `etag`: the S3 ETag of the GET that returned `data` ("etag:..."), None locally.
    `mtime_ns`: a local file's modification time on the open descriptor, None on S3.
    Recorded so a job can tell an object that changed between its listing and its read.
    """

    data: bytes
    etag: str | None = None
    mtime_ns: int | None = None

    def changed_since(self, listed: dict[str, object]) -> bool:
        """True when what was read is not what the listing saw (size, ETag or mtime differ).

        `listed` holds the listing's `size_bytes`, `fingerprint` (S3: the listing's ETag)
        and `mtime_ns` (local); a value the listing did not record is not compared.
        """
        size = listed.get("size_bytes")
        if size is not None and int(size) != len(self.data):  # type: ignore[call-overload]
            return True
        listed_fp = listed.get("fingerprint")
        if self.etag and listed_fp and str(listed_fp).startswith("etag:") and listed_fp != self.etag:
            return True
        listed_mtime = listed.get("mtime_ns")
        return bool(self.mtime_ns is not None and listed_mtime is not None
                    and int(listed_mtime) != self.mtime_ns)  # type: ignore[call-overload]


class Backend:
    """One URL scheme: read whole objects, and hand out a pyarrow filesystem."""

    def __init__(self, options: StorageOptions) -> None:
        self.options = options

    def read_object(self, uri: str, max_bytes: int | None = None) -> ReadResult:
        """The object's bytes and version; `ObjectTooLarge` when over `max_bytes`."""
        raise NotImplementedError

    def read_bytes(self, uri: str, max_bytes: int | None = None) -> bytes:
        """The object's bytes; `ObjectTooLarge` when over `max_bytes`."""
        return self.read_object(uri, max_bytes).data

    def filesystem(self, uri: str) -> "tuple[pafs.FileSystem, str]":
        """(filesystem, path inside it) for `uri`."""
        raise NotImplementedError
