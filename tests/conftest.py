from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from postgres_server import Database, PostgresServer, new_database, running_server


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiohttp runs on asyncio only


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server on 127.0.0.1 for the whole session (see tests/postgres_server.py)."""
    with running_server() as server:
        yield server


@pytest.fixture
def postgres(postgres_server: PostgresServer) -> Database:
    """A fresh database on that server for one test."""
    return new_database(postgres_server, f"test_{uuid.uuid4().hex[:12]}")
