"""pytest fixture: a moto S3 server process plus dummy AWS credentials in the environment.

Import with `from tests.fixtures_s3 import s3_server`. The credentials go into
os.environ (restored afterwards) so every client on the standard AWS chain,
including Ray workers started after this fixture, finds them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.s3_server import MotoServer

__all__ = ["s3_server"]

_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="module")
def s3_server() -> Iterator[MotoServer]:
    """A running moto_server (module scope), with test credentials set while it lives."""
    saved = {k: os.environ.get(k) for k in _ENV}
    os.environ.update(_ENV)
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
