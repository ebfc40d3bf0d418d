from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from reconciler.errors import InvalidOption
from reconciler.simulator import FaultConfig, run_simulator
from reconciler.simulator.faults import Fault, FaultInjector, RateCeiling

from .support import FakeClock, bearer, config_for, post, v2_url

NOW = 1_700_000_000.0


def faults_drawn(config: FaultConfig, count: int) -> list[Fault | None]:
    injector = FaultInjector(config)
    return [injector.plan(NOW).fault for _ in range(count)]


def test_each_fault_comes_at_about_its_fraction() -> None:
    config = FaultConfig(seed=1, fail_503=0.10, fail_429=0.05, reset=0.05, html=0.05, stall=0.05)
    counts = Counter(faults_drawn(config, 20_000))
    for fault, fraction in ((Fault.FAIL_503, 0.10), (Fault.FAIL_429, 0.05), (Fault.RESET, 0.05),
                            (Fault.HTML, 0.05), (Fault.STALL, 0.05), (None, 0.70)):
        assert counts[fault] / 20_000 == pytest.approx(fraction, abs=0.015), fault


def test_the_same_seed_gives_the_same_faults() -> None:
    config = FaultConfig(seed=42, fail_503=0.3, reset=0.1)
    assert faults_drawn(config, 200) == faults_drawn(config, 200)
    assert faults_drawn(config, 200) != faults_drawn(FaultConfig(seed=43, fail_503=0.3, reset=0.1), 200)


def test_latency_varies_within_the_jitter_and_leaves_the_faults_alone() -> None:
    injector = FaultInjector(FaultConfig(seed=3, latency_ms=10, jitter_ms=5, fail_503=0.5))
    plans = [injector.plan(NOW) for _ in range(500)]
    assert all(0.005 <= plan.delay <= 0.015 for plan in plans)
    assert len({plan.delay for plan in plans}) > 400
    assert [plan.fault for plan in plans] == faults_drawn(FaultConfig(seed=3, fail_503=0.5), 500)


def test_the_rate_ceiling_counts_per_whole_second() -> None:
    ceiling = RateCeiling(3)
    assert [ceiling.admit(NOW + 0.1 * i) for i in range(5)] == [True, True, True, False, False]
    assert ceiling.admit(NOW + 1.0)


@pytest.mark.parametrize(("options", "option"), [
    ({"fail_503": 1.5}, "--fail-503"),
    ({"fail_503": 0.6, "reset": 0.6}, "add up to at most 1"),
    ({"latency_ms": -1}, "--latency"),
    ({"rate_ceiling": 0}, "--rate-ceiling"),
    ({"stall_seconds": float("inf")}, "--stall-seconds"),
])
def test_fault_settings_are_validated(options: dict[str, float], option: str) -> None:
    with pytest.raises(InvalidOption, match=option):
        FaultConfig(**options)  # type: ignore[arg-type]


async def outcomes(records: Path, faults: FaultConfig, count: int, clock: FakeClock | None = None) -> list[str]:
    """How ``count`` sequential v2 queries to a simulator with these faults ended."""
    async with run_simulator(config_for(records, faults=faults), clock=clock or FakeClock()) as sim, \
            aiohttp.ClientSession() as session:
        headers = await bearer(session, sim.base_url)
        return [await outcome(session, v2_url(sim.base_url), headers) for _ in range(count)]


async def outcome(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> str:
    try:
        async with session.post(url, json={"account_id": "000123"}, headers=headers) as answer:
            return "html" if answer.content_type == "text/html" else str(answer.status)
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
        return "reset"


@pytest.mark.anyio
async def test_fractions_of_faults_repeat_with_the_seed(records: Path) -> None:
    faults = FaultConfig(seed=5, fail_503=0.15, fail_429=0.15, html=0.15, reset=0.15)
    first = await outcomes(records, faults, 200)
    counts = Counter(first)
    assert set(counts) == {"200", "503", "429", "html", "reset"}
    assert all(12 <= counts[kind] <= 50 for kind in ("503", "429", "html", "reset")), counts
    assert await outcomes(records, faults, 200) == first
    assert await outcomes(records, FaultConfig(seed=6, fail_503=0.15, fail_429=0.15, html=0.15, reset=0.15),
                          200) != first


@pytest.mark.anyio
@pytest.mark.parametrize(("faults", "kind", "status", "content_type", "retry_after"), [
    (FaultConfig(seed=1, fail_503=1), "503", 503, "text/plain", None),
    (FaultConfig(seed=1, fail_429=1, retry_after=2), "429", 429, "text/plain", "2"),
    (FaultConfig(seed=1, fail_429=1), "429", 429, "text/plain", None),
    (FaultConfig(seed=1, html=1), "html", 200, "text/html", None),
])
async def test_injected_answers(records: Path, faults: FaultConfig, kind: str, status: int, content_type: str,
                                retry_after: str | None) -> None:
    async with run_simulator(config_for(records, faults=faults)) as sim, aiohttp.ClientSession() as session:
        headers = await bearer(session, sim.base_url)  # the token endpoint is never faulted
        async with session.post(v2_url(sim.base_url), json={"account_id": "000123"}, headers=headers) as answer:
            assert (answer.status, answer.content_type) == (status, content_type)
            assert answer.headers.get("Retry-After") == retry_after
        assert sim.stats()["faults_injected"] == {kind: 1}


@pytest.mark.anyio
async def test_faults_come_after_authentication(records: Path) -> None:
    async with run_simulator(config_for(records, faults=FaultConfig(fail_503=1))) as sim, \
            aiohttp.ClientSession() as session:
        assert (await post(session, v2_url(sim.base_url), {"account_id": "000123"}))[0] == 401


@pytest.mark.anyio
async def test_a_reset_closes_the_connection_without_an_answer(records: Path) -> None:
    async with run_simulator(config_for(records, faults=FaultConfig(seed=1, reset=1))) as sim, \
            aiohttp.ClientSession() as session:
        headers = await bearer(session, sim.base_url)
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await post(session, v2_url(sim.base_url), {"account_id": "000123"}, headers=headers)
        stats = sim.stats()
    assert stats["faults_injected"] == {"reset": 1}
    assert stats["by_status"] == {"200": 1}  # the token; the reset has no status
    assert stats["requests_per_key"] == {"000123": 1}  # it reached the server all the same


@pytest.mark.anyio
async def test_a_stall_outlasts_the_client_timeout(records: Path) -> None:
    faults = FaultConfig(seed=1, stall=1, stall_seconds=30)
    async with run_simulator(config_for(records, faults=faults)) as sim, aiohttp.ClientSession() as session:
        headers = await bearer(session, sim.base_url)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with session.post(v2_url(sim.base_url), json={"account_id": "000123"}, headers=headers,
                                    timeout=aiohttp.ClientTimeout(total=0.2)):
                pass  # pragma: no cover
        assert time.monotonic() - started < 2
    assert time.monotonic() - started < 5  # stopping the simulator cut the stall short


@pytest.mark.anyio
async def test_latency_delays_every_answer(records: Path) -> None:
    started = time.monotonic()
    assert await outcomes(records, FaultConfig(latency_ms=100), 3) == ["200"] * 3
    assert time.monotonic() - started >= 0.3


@pytest.mark.anyio
async def test_over_the_rate_ceiling_is_429_with_retry_after_1(records: Path, clock: FakeClock) -> None:
    async with run_simulator(config_for(records, faults=FaultConfig(rate_ceiling=5)), clock=clock) as sim, \
            aiohttp.ClientSession() as session:
        headers = await bearer(session, sim.base_url)
        answers = []
        for _ in range(8):
            async with session.post(v2_url(sim.base_url), json={"account_id": "000123"}, headers=headers) as r:
                answers.append((r.status, r.headers.get("Retry-After")))
        assert answers == [(200, None)] * 5 + [(429, "1")] * 3
        clock.advance(1)
        assert (await post(session, v2_url(sim.base_url), {"account_id": "000123"}, headers=headers))[0] == 200
        assert sim.stats()["faults_injected"] == {"rate_ceiling": 3}
