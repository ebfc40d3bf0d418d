from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest

from reconciler.simulator import RunningSimulator, run_simulator

from .support import TENANT, FakeClock, bearer, config_for, post, token_answer, v2_url

pytestmark = pytest.mark.anyio


async def test_a_token_answer_is_shaped_like_a_real_one(sim: RunningSimulator,
                                                       session: aiohttp.ClientSession) -> None:
    status, body = await token_answer(session, sim.base_url)
    assert status == 200 and isinstance(body, dict)
    assert re.fullmatch(r"[0-9a-f]{64}", body["access_token"])
    assert body["expires_in"] == "3600"  # a string, as 5.x sends it
    assert (body["token_type"], body["scope"]) == ("Bearer", TENANT)
    assert sim.stats()["tokens_issued"] == 1


async def test_a_token_opens_the_v2_api(sim: RunningSimulator, session: aiohttp.ClientSession) -> None:
    headers = await bearer(session, sim.base_url)
    assert (await post(session, v2_url(sim.base_url), {"account_id": "000123"}, headers=headers))[0] == 200


async def test_tokens_expire(records: Path, clock: FakeClock, session: aiohttp.ClientSession) -> None:
    async with run_simulator(config_for(records, token_lifetime=60), clock=clock) as sim:
        _, body = await token_answer(session, sim.base_url)
        assert body["expires_in"] == "60"  # type: ignore[index]
        headers = {"Authorization": f"Bearer {body['access_token']}"}  # type: ignore[index]
        clock.advance(59)
        assert (await post(session, v2_url(sim.base_url), {"account_id": "000123"}, headers=headers))[0] == 200
        clock.advance(1)
        assert await post(session, v2_url(sim.base_url), {"account_id": "000123"}, headers=headers) == (
            401, "Session is not authenticated")
        fresh = await bearer(session, sim.base_url)
        assert (await post(session, v2_url(sim.base_url), {"account_id": "000123"}, headers=fresh))[0] == 200


@pytest.mark.parametrize(("credentials", "expected"), [
    ({"secret": "wrong"}, 401),
    ({"client": "nobody"}, 401),
    ({"scope": "other.brightpattern.com"}, 401),
])
async def test_bad_client_credentials_or_scope_get_no_token(
    sim: RunningSimulator, session: aiohttp.ClientSession, credentials: dict[str, str], expected: int
) -> None:
    assert await token_answer(session, sim.base_url, **credentials) == (expected, "Session is not authenticated")
    assert sim.stats()["tokens_issued"] == 0


async def test_only_the_client_credentials_grant_is_served(sim: RunningSimulator,
                                                           session: aiohttp.ClientSession) -> None:
    async with session.post(f"{sim.base_url}/configapi/v2/oauth/token", data={"grant_type": "password"}) as answer:
        assert answer.status == 400
    async with session.get(f"{sim.base_url}/configapi/v2/oauth/token") as answer:
        assert answer.status == 405


@pytest.mark.parametrize("authorization", [None, "Bearer " + "0" * 64, "Basic ZGVtbzpkZW1v"])
async def test_requests_without_a_live_token_are_not_authenticated(
    sim: RunningSimulator, session: aiohttp.ClientSession, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else None
    assert await post(session, v2_url(sim.base_url), {"account_id": "000123"}, headers=headers) == (
        401, "Session is not authenticated")


async def test_an_unprivileged_client_gets_403(sim: RunningSimulator, session: aiohttp.ClientSession) -> None:
    headers = await bearer(session, sim.base_url, client="viewer", secret="pw")
    assert await post(session, v2_url(sim.base_url), {"account_id": "000123"}, headers=headers) == (
        403, "User authenticated but does not have sufficient privileges")
