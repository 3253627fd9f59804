"""Shared fixtures: one embedded PostgreSQL server per test run, one database per test module."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from casework.app import CaseworkApp
from casework.db import Database, create_database, start_embedded, stop_embedded

# Tests write nothing into the tree: no example database.
settings.register_profile("casework", database=None, deadline=None)
settings.load_profile("casework")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Database]:
    """An embedded server in a short temporary path (Unix socket paths are limited)."""
    root = Path(tempfile.mkdtemp(prefix="cw-"))
    pgdata = root / "pg"
    try:
        yield start_embedded(pgdata)
    finally:
        stop_embedded(pgdata)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def database(pg_server: Database, request: pytest.FixtureRequest) -> Database:
    name = re.sub(r"\W", "_", request.module.__name__.rsplit(".", 1)[-1])[:50]
    return create_database(pg_server, f"t_{name}_{os.getpid()}")


@pytest.fixture(scope="session")
def master_key() -> bytes:
    # Fixed, so recorded workflow histories (sealed with it) replay in later runs.
    return hashlib.sha256(b"casework test master key").digest()


@pytest.fixture(scope="module")
def app(database: Database, master_key: bytes) -> Iterator[CaseworkApp]:
    application = CaseworkApp(database, master_key)
    yield application
    application.close()
