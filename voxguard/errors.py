"""Typed errors for mistakes a user can fix (a wrong flag, a missing bucket, a stopped database).

The CLI prints any `VoxguardError` as one line on stderr and exits with code 2;
every other exception is a bug and surfaces as a traceback. Raise these only for
conditions the user can act on, with a message that says what to do.

This module imports nothing (and `voxguard/__init__.py` imports nothing), so every
package, `cluster`, `jobs`, `feedback` and `dashboard` alike, can raise these
without depending on the command line. `siamese` keeps its own `AudioError`s: it
imports nothing of ours.

Where a class replaces a built-in exception that callers already catch
(`LookupError`, `ValueError`, `ConnectionError`), it also derives from it, so
existing `except LookupError:` handlers keep working.
"""

from __future__ import annotations


class VoxguardError(Exception):
    """Base class: a user-fixable failure; `str()` is the one line the CLI prints."""


class UserError(VoxguardError):
    """The command asks for something that cannot be done as asked (a name taken, a wrong option)."""


class AlreadyExists(UserError, ValueError):
    """Creating something whose name is taken (a reviewer, a model version)."""


class NotFound(UserError, LookupError):
    """A named thing does not exist (a model version, a reviewer, a job)."""


class Forbidden(UserError):
    """The acting account may not do this (disabled, or its role lacks the right).

    Not `PermissionError`: that is an `OSError`, which callers catch for file-system failures.
    """


class OutputExists(UserError, FileExistsError):
    """The output already holds results and the user said neither resume nor overwrite."""


class ConfigError(VoxguardError, ValueError):
    """The configuration (environment variable, flag, settings) is invalid or incomplete."""


class InputError(VoxguardError, ValueError):
    """An input path, URI or file is missing or not what the command needs."""


class InputNotFound(InputError, FileNotFoundError):
    """An input path (source folder, model package, manifest) does not exist."""


class StorageError(VoxguardError):
    """Object storage refused the request: wrong credentials, missing bucket, unreachable endpoint."""


class DatabaseError(VoxguardError):
    """The feedback database cannot be reached, or its schema does not match this version."""


class ClusterError(VoxguardError, ConnectionError):
    """No Ray cluster answers at the configured address (or it refused us)."""
