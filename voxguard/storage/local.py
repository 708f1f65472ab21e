"""Local paths (and file:// URIs): regular files only, never a FIFO or device."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

import pyarrow.fs as pafs

from voxguard.storage.base import Backend, NotRegularFile, ObjectTooLarge, ReadResult


def local_path(uri: str) -> str:
    """The path of a plain path or a file:// URI."""
    return uri[len("file://"):] if uri.startswith("file://") else uri


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a local file for reading only if it is a regular file (symlinks followed).

    Checked before opening, then again on the open descriptor (opened non-blocking,
    so a FIFO swapped in between cannot block the open), which closes the race.
    """
    if not stat.S_ISREG(mode := os.stat(path).st_mode):
        raise NotRegularFile(f"not a regular file ({file_kind(mode)})")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"not a regular file ({file_kind(mode)})")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_kind(mode: int) -> str:
    """FIFO, socket, device...: how a non-regular file is named in error rows."""
    names = ((stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
             (stat.S_ISBLK, "block device"), (stat.S_ISDIR, "folder"))
    return next((name for test, name in names if test(mode)), "special file")


class LocalBackend(Backend):
    """The local filesystem."""

    def read_object(self, uri: str, max_bytes: int | None = None) -> ReadResult:
        with open_regular(local_path(uri)) as handle:
            info = os.fstat(handle.fileno())
            if max_bytes is not None and info.st_size > max_bytes:
                raise ObjectTooLarge(f"{info.st_size} bytes exceeds the {max_bytes} byte limit")
            data = handle.read()
            # mtime after the read: a writer that was busy while we read shows up as a change.
            return ReadResult(data, mtime_ns=os.fstat(handle.fileno()).st_mtime_ns)

    def filesystem(self, uri: str) -> tuple[pafs.FileSystem, str]:
        return pafs.LocalFileSystem(), str(Path(local_path(uri)).resolve())
