from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from reconciler.simulator import RunningSimulator, run_simulator

from .support import FakeClock, config_for, write_records


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiohttp runs on asyncio only


@pytest.fixture
def records(tmp_path: Path) -> Path:
    return write_records(tmp_path / "List 1.csv")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sim(records: Path, clock: FakeClock) -> AsyncIterator[RunningSimulator]:
    async with run_simulator(config_for(records), clock=clock) as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client
