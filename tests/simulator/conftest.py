from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from reconciler.simulator import RunningSimulator, run_simulator

from .support import CAMPAIGN, LIST, FakeClock, bearer, classic_url, config_for, digest_session, v2_url, write_records

Ask = Callable[..., Awaitable[tuple[int, str]]]


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


@pytest.fixture(params=["classic", "v2"])
def dialect(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
async def ask(dialect: str, sim: RunningSimulator) -> AsyncIterator[Ask]:
    """POST a body to one operation of ``dialect``, authenticated; answers (status, text)."""
    async with digest_session() if dialect == "classic" else aiohttp.ClientSession() as session:
        headers = await bearer(session, sim.base_url) if dialect == "v2" else {}
        url_for = v2_url if dialect == "v2" else classic_url

        async def send(body: object, operation: str = "get", list_name: str = LIST, campaign: str = CAMPAIGN,
                       *, raw: bytes | None = None) -> tuple[int, str]:
            data = raw if raw is not None else json.dumps(body).encode()
            async with session.post(url_for(sim.base_url, operation, list_name, campaign), data=data,
                                    headers=headers) as response:
                return response.status, await response.text()

        yield send
