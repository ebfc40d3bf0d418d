from __future__ import annotations

from pathlib import Path

import aiohttp
import anyio
import pytest

from reconciler.simulator import FaultConfig, ListSource, RunningSimulator, run_simulator

from .support import FakeClock, bearer, config_for, post, v2_url, write_csv

pytestmark = pytest.mark.anyio

FIELDS = {"requests_total", "by_status", "by_endpoint", "digest_challenges", "stale_challenges", "tokens_issued",
          "distinct_keys_queried", "max_requests_per_key", "peak_in_flight", "in_flight", "per_second",
          "faults_injected"}


async def stats_of(session: aiohttp.ClientSession, sim: RunningSimulator, query: str = "") -> dict[str, object]:
    async with session.get(f"{sim.base_url}/__stats{query}") as response:  # no authentication needed
        assert response.status == 200
        answer: dict[str, object] = await response.json()
        return answer


async def test_the_counters_tell_what_the_server_saw(sim: RunningSimulator, session: aiohttp.ClientSession) -> None:
    headers = await bearer(session, sim.base_url)
    for body in ({"account_id": "000123"}, {"account_id": "000123"}, {"account_id": "000999"}, {"id": "x"}):
        await post(session, v2_url(sim.base_url), body, headers=headers)
    await post(session, v2_url(sim.base_url, "getAll"), {"fromIndex": 0, "maxSize": 5}, headers=headers)
    await post(session, v2_url(sim.base_url), {"account_id": "000124"})  # not authenticated: not counted per key
    async with session.get(f"{sim.base_url}/nowhere"):
        pass
    stats = await stats_of(session, sim)
    assert set(stats) == FIELDS
    assert stats["requests_total"] == 8  # /__stats itself is not counted
    assert stats["by_endpoint"] == {"query": 5, "getAll": 1, "getChanged": 0, "getCompleted": 0, "token": 1,
                                    "campaigns": 0, "other": 1}
    assert stats["by_status"] == {"200": 4, "400": 1, "401": 1, "404": 2}
    assert (stats["distinct_keys_queried"], stats["max_requests_per_key"]) == (2, 2)
    assert stats["per_second"] == {"1700000000": 8}
    assert (stats["tokens_issued"], stats["peak_in_flight"], stats["in_flight"]) == (1, 1, 0)
    with_keys = await stats_of(session, sim, "?keys=1")
    assert with_keys["requests_per_key"] == {"000123": 2, "000999": 1}
    assert sim.stats() == with_keys


async def test_several_key_fields_are_joined_with_a_bar(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    path = write_csv(tmp_path / "l.csv", ["region", "id"], [["eu", "1"]])
    config = config_for(path, lists=(ListSource(path=path, list_name="l", key_fields=("region", "id")),))
    async with run_simulator(config) as sim:
        headers = await bearer(session, sim.base_url)
        assert (await post(session, v2_url(sim.base_url, list_name="l"), {"region": "eu", "id": "1"},
                           headers=headers))[0] == 200
        assert sim.stats()["requests_per_key"] == {"eu|1": 1}


async def test_reset_zeroes_the_counters(sim: RunningSimulator, session: aiohttp.ClientSession) -> None:
    await bearer(session, sim.base_url)
    async with session.post(f"{sim.base_url}/__stats/reset") as response:
        assert response.status == 204
    stats = await stats_of(session, sim, "?keys=1")
    assert (stats["requests_total"], stats["tokens_issued"], stats["requests_per_key"]) == (0, 0, {})
    await bearer(session, sim.base_url)
    sim.reset_stats()
    assert sim.stats()["requests_total"] == 0


async def test_peak_in_flight_and_faulted_queries(records: Path, session: aiohttp.ClientSession) -> None:
    faults = FaultConfig(seed=2, latency_ms=150, fail_503=1)
    async with run_simulator(config_for(records, faults=faults), clock=FakeClock()) as sim:
        headers = await bearer(session, sim.base_url)

        async def query() -> None:
            await post(session, v2_url(sim.base_url), {"account_id": "000123"}, headers=headers)

        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(query)
        stats = sim.stats()
    assert stats["peak_in_flight"] >= 3  # type: ignore[operator]
    assert stats["requests_per_key"] == {"000123": 5}  # faulted, yet they reached the server
    assert stats["faults_injected"] == {"503": 5}
