"""Where data may be read and written: allowed roots for local paths and s3:// URIs.

Why this exists: the dashboard starts scoring jobs and serves review audio as
the server's user. Without confinement, anyone able to submit a job could read
`/etc/shadow` into a Parquet file. A local path is allowed when, after every
symlink is followed, it lies under one of the roots (each root resolved the
same way), so a link inside a root cannot lead out of it. A literal `..`
component is refused outright rather than normalised: a path means what it
says. An `s3://bucket/key` URI is allowed only under a configured
`s3://bucket[/prefix]` root; with no S3 root, no S3 URI is allowed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import PurePosixPath

_WILDCARDS = "*?["


class AccessDenied(PermissionError):
    """The caller's role or the configured roots do not allow this (its message is one line for the user)."""


def parse_roots(raw: str) -> list[str]:
    """Roots from a ':'-separated list (the ':' of `s3://` is not a separator); blanks dropped."""
    return [part.strip() for part in re.split(r":(?!//)", raw or "") if part.strip()]


def _is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def _s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def _s3_allowed(uri: str, roots: Sequence[str]) -> bool:
    bucket, key = _s3_parts(uri)
    if not bucket or ".." in key.split("/"):
        return False
    for root in roots:
        if not _is_s3(root):
            continue
        root_bucket, prefix = _s3_parts(root)
        prefix = prefix.strip("/")
        if bucket == root_bucket and (not prefix or key == prefix or key.startswith(prefix + "/")):
            return True
    return False


def _under(real: str, roots: Sequence[str]) -> bool:
    for root in roots:
        if _is_s3(root):
            continue
        base = os.path.realpath(root)
        if real == base or real.startswith(base.rstrip(os.sep) + os.sep):
            return True
    return False


def is_within(uri: str, roots: Sequence[str]) -> bool:
    """True when `uri` (local path, `file://` or `s3://`) lies under one of `roots`, symlinks followed."""
    if _is_s3(uri):
        return _s3_allowed(uri, roots)
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    if not path or ".." in PurePosixPath(path).parts:
        return False
    return _under(os.path.realpath(path), roots)


def resolve_within(uri: str, roots: Sequence[str], what: str = "path") -> str:
    """The canonical form of `uri` if it lies under one of `roots`, else `AccessDenied`.

    Local paths come back absolute with symlinks resolved, so what is later
    opened is what was checked. A glob (`/data/**/*.wav`) is checked on the
    folder before its first wildcard; the job checks every object it lists again.
    """
    uri = uri.strip()
    if not uri:
        raise AccessDenied(f"{what}: empty")
    shown = ", ".join(roots) or "(none)"
    if _is_s3(uri):
        if not _s3_allowed(uri, roots):
            raise AccessDenied(f"{what} {uri} is outside the allowed locations: {shown}")
        return uri
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    parts = PurePosixPath(path).parts
    if ".." in parts:
        raise AccessDenied(f"{what} {uri}: '..' is not allowed in paths")
    first_wild = next((i for i, p in enumerate(parts) if any(c in p for c in _WILDCARDS)), len(parts))
    static = os.path.join(*parts[:first_wild]) if first_wild else "."
    real = os.path.realpath(static)
    if not _under(real, roots):
        raise AccessDenied(f"{what} {uri} is outside the allowed locations: {shown}")
    return os.path.join(real, *parts[first_wild:])
