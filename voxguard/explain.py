"""Turn third-party exceptions that mean "the user's environment is wrong" into `VoxguardError`s.

Libraries raise our typed errors where they can tell a user mistake from a bug.
Some failures only show up deep inside a dependency (SQLAlchemy cannot connect,
Alembic does not know the database's revision, S3 refuses the credentials, a
Ray task re-raises any of these): the CLI asks `explain()` about every
exception it did not expect, and prints a traceback when it returns None.

Only modules already imported are inspected (`sys.modules`), so explaining an
error never imports SQLAlchemy, botocore or Ray on its own.
"""

from __future__ import annotations

import sys

from voxguard.errors import DatabaseError, InputError, StorageError, VoxguardError

# Fragments of driver messages that mean "cannot reach / open the database", not a bug in our SQL.
_DB_UNREACHABLE = (
    "connection refused",
    "could not connect",
    "connection to server",
    "unable to open database file",
    "could not translate host name",
    "name or service not known",
    "password authentication failed",
    "timeout expired",
)

# S3 error codes a user fixes with credentials, bucket names or the endpoint setting.
_S3_CODES = {
    "NoSuchBucket": "bucket does not exist",
    "InvalidAccessKeyId": "the access key is not known to the server (check AWS_ACCESS_KEY_ID)",
    "SignatureDoesNotMatch": "the secret key is wrong (check AWS_SECRET_ACCESS_KEY)",
    "AccessDenied": "access denied (check the credentials' permissions)",
    "ExpiredToken": "the session token has expired",
    "InvalidToken": "the session token is invalid",
    "InvalidBucketName": "invalid bucket name",
    "403": "access denied (check the credentials)",
}


def explain(error: BaseException) -> VoxguardError | None:
    """A one-line `VoxguardError` for a known environment failure, else None (a bug)."""
    if isinstance(error, VoxguardError):
        return error
    cause = _ray_cause(error)
    if cause is not None and cause is not error:
        return explain(cause)
    for check in (_database, _migration, _s3, _arrow_s3, _package):
        found = check(error)
        if found is not None:
            return found
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


def _ray_cause(error: BaseException) -> BaseException | None:
    """The user exception inside a RayTaskError (a worker or actor re-raising it)."""
    exceptions = sys.modules.get("ray.exceptions")
    if exceptions is not None and isinstance(error, exceptions.RayTaskError):
        return getattr(error, "cause", None)
    return None


def _database(error: BaseException) -> VoxguardError | None:
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is None or not isinstance(error, sa_exc.DBAPIError):
        return None
    message = _first_line(getattr(error, "orig", None) or error)
    lowered = f"{message} {type(getattr(error, 'orig', None)).__name__}".lower()
    if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)) and any(
        fragment in lowered for fragment in _DB_UNREACHABLE
    ):
        return DatabaseError(f"cannot reach the feedback database: {message} (check VOXGUARD_DB_URL / --db-url)")
    # A database that was never migrated (SQLite / PostgreSQL wording).
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return DatabaseError(f"the feedback database has no schema yet ({message}): run `voxguard db upgrade`")
    return None


def _migration(error: BaseException) -> VoxguardError | None:
    alembic_exc = sys.modules.get("alembic.util.exc")
    if alembic_exc is None or not isinstance(error, alembic_exc.CommandError):
        return None
    return DatabaseError(
        f"database migration failed: {_first_line(error)} "
        "(is the database newer than this voxguard, or the revision misspelt?)"
    )


def _s3(error: BaseException) -> VoxguardError | None:
    bc_exc = sys.modules.get("botocore.exceptions")
    if bc_exc is None:
        return None
    if isinstance(error, bc_exc.NoCredentialsError):
        return StorageError("no S3 credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile)")
    if isinstance(error, bc_exc.EndpointConnectionError):
        return StorageError(f"cannot reach the S3 endpoint: {_first_line(error)} (check VOXGUARD_S3_ENDPOINT)")
    if isinstance(error, bc_exc.ClientError):
        info = error.response.get("Error", {})
        code = str(info.get("Code", ""))
        if code in _S3_CODES:
            bucket = info.get("BucketName")
            where = f" (bucket {bucket})" if bucket else ""
            return StorageError(f"S3 refused the request{where}: {_S3_CODES[code]} [{code}]")
    return None


def _arrow_s3(error: BaseException) -> VoxguardError | None:
    # pyarrow's S3FileSystem raises plain OSErrors whose text names the AWS error.
    if not isinstance(error, OSError) or "pyarrow" not in sys.modules:
        return None
    message = _first_line(error)
    if "AWS Error" in message or "bucket does not exist" in message.lower():
        return StorageError(f"S3 refused the request: {message}")
    return None


def _package(error: BaseException) -> VoxguardError | None:
    errors = sys.modules.get("siamese.errors")
    if errors is not None and isinstance(error, errors.InvalidPackage):
        return InputError(str(error))
    return None
