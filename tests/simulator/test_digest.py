from __future__ import annotations

import hashlib
from pathlib import Path

import aiohttp
import anyio
import pytest

from reconciler.simulator import RunningSimulator, run_simulator
from reconciler.simulator.digest import DigestAuthority, Verdict, parse_credentials

from .support import PASSWORD, TENANT, USER, FakeClock, classic_url, config_for, digest_session, post

PATH = "/admin/ws/t/demo.brightpattern.com/callinglist/get/List%201.csv/Campaign_1"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def answer(challenge: str, *, nc: int, cnonce: str = "c0ffee", password: str = PASSWORD, uri: str = PATH,
           method: str = "POST") -> str:
    """An Authorization header for ``challenge``, computed as RFC 7616 says."""
    params = parse_credentials(challenge)
    assert params is not None
    ha1, ha2 = md5(f"{USER}:{params['realm']}:{password}"), md5(f"{method}:{uri}")
    count = f"{nc:08x}"
    response = md5(f"{ha1}:{params['nonce']}:{count}:{cnonce}:auth:{ha2}")
    return (f'Digest username="{USER}", realm="{params["realm"]}", nonce="{params["nonce"]}", uri="{uri}", '
            f'response="{response}", algorithm=MD5, qop=auth, nc={count}, cnonce="{cnonce}", '
            f'opaque="{params["opaque"]}"')


def authority(clock: FakeClock, lifetime: float | None = None) -> DigestAuthority:
    return DigestAuthority(realm="ServicePattern", passwords={USER: PASSWORD}, nonce_lifetime=lifetime,
                           clock=clock)


def test_the_challenge_asks_for_md5_with_qop_auth(clock: FakeClock) -> None:
    params = parse_credentials(authority(clock).challenge())
    assert params is not None
    assert params["realm"] == "ServicePattern" and params["qop"] == "auth" and params["algorithm"] == "MD5"
    assert "stale" not in params
    assert parse_credentials(authority(clock).challenge(stale=True))["stale"] == "true"  # type: ignore[index]


def test_a_nonce_serves_many_requests_in_any_nonce_count_order(clock: FakeClock) -> None:
    digest = authority(clock)
    challenge = digest.challenge()
    verdicts = [digest.verify("POST", PATH, answer(challenge, nc=nc)).verdict for nc in (3, 1, 2, 2)]
    assert verdicts == [Verdict.OK] * 4


@pytest.mark.parametrize(("header", "verdict"), [
    (None, Verdict.MISSING),
    ("Basic ZGVtbzpkZW1v", Verdict.MISSING),
    ("Digest username=demo", Verdict.INVALID),
])
def test_missing_or_malformed_credentials(clock: FakeClock, header: str | None, verdict: Verdict) -> None:
    assert authority(clock).verify("POST", PATH, header).verdict is verdict


def test_wrong_password_uri_or_method_is_invalid_not_stale(clock: FakeClock) -> None:
    digest = authority(clock)
    challenge = digest.challenge()
    assert digest.verify("POST", PATH, answer(challenge, nc=1, password="nope")).verdict is Verdict.INVALID
    assert digest.verify("POST", PATH + "x", answer(challenge, nc=1)).verdict is Verdict.INVALID
    assert digest.verify("GET", PATH, answer(challenge, nc=1)).verdict is Verdict.INVALID


def test_old_and_foreign_nonces_are_stale(clock: FakeClock) -> None:
    digest = authority(clock, lifetime=30)
    challenge = digest.challenge()
    clock.advance(29)
    assert digest.verify("POST", PATH, answer(challenge, nc=1)).verdict is Verdict.OK
    clock.advance(2)
    assert digest.verify("POST", PATH, answer(challenge, nc=2)).verdict is Verdict.STALE
    foreign = authority(clock).challenge()  # another server's (or an earlier run's) nonce
    assert digest.verify("POST", PATH, answer(foreign, nc=1)).verdict is Verdict.STALE


@pytest.mark.anyio
async def test_the_challenge_is_paid_once_per_nonce_not_per_request(sim: RunningSimulator) -> None:
    async with digest_session() as session:
        assert (await post(session, classic_url(sim.base_url), {"account_id": "000123"}))[0] == 200
        results: list[int] = []

        async def query(account_id: str) -> None:
            results.append((await post(session, classic_url(sim.base_url), {"account_id": account_id}))[0])

        async with anyio.create_task_group() as group:
            for number in range(126, 146):  # concurrent: nonce counts may arrive out of order
                group.start_soon(query, f"000{number}")
    assert results == [200] * 20
    stats = sim.stats()
    assert stats["digest_challenges"] == 1
    assert stats["by_status"] == {"200": 21, "401": 1}


@pytest.mark.anyio
async def test_a_stale_nonce_is_challenged_again_and_the_client_recovers(records: Path, clock: FakeClock) -> None:
    async with run_simulator(config_for(records, nonce_lifetime=60), clock=clock) as sim, digest_session() as session:
        assert (await post(session, classic_url(sim.base_url), {"account_id": "000123"}))[0] == 200
        clock.advance(30)
        assert (await post(session, classic_url(sim.base_url), {"account_id": "000124"}))[0] == 200
        clock.advance(31)
        assert (await post(session, classic_url(sim.base_url), {"account_id": "000125"}))[0] == 200
        stats = sim.stats()
    assert (stats["digest_challenges"], stats["stale_challenges"]) == (2, 1)
    assert stats["by_status"] == {"200": 3, "401": 2}


@pytest.mark.anyio
async def test_a_stale_answer_carries_stale_true(records: Path, clock: FakeClock) -> None:
    async with run_simulator(config_for(records, nonce_lifetime=5), clock=clock) as sim, \
            aiohttp.ClientSession() as session:
        url = classic_url(sim.base_url)
        async with session.post(url, json={"account_id": "000123"}) as first:
            challenge = first.headers["WWW-Authenticate"]
        clock.advance(6)
        async with session.post(url, json={"account_id": "000123"},
                                headers={"Authorization": answer(challenge, nc=1)}) as stale:
            assert stale.status == 401
            assert parse_credentials(stale.headers["WWW-Authenticate"])["stale"] == "true"  # type: ignore[index]


@pytest.mark.anyio
async def test_a_wrong_password_is_401_without_stale(sim: RunningSimulator) -> None:
    async with digest_session(password="wrong") as session, \
            session.post(classic_url(sim.base_url), json={"account_id": "000123"}) as response:
        assert response.status == 401
        assert "stale" not in parse_credentials(response.headers["WWW-Authenticate"])  # type: ignore[operator]
        assert await response.text() == "HTTP 401 Unauthorized"


@pytest.mark.anyio
async def test_an_unprivileged_user_gets_403(sim: RunningSimulator) -> None:
    async with digest_session("bob", "pw") as session:
        status, text = await post(session, classic_url(sim.base_url), {"account_id": "000123"})
    assert (status, text) == (403, "User authenticated but does not have sufficient privileges")


@pytest.mark.anyio
async def test_a_wrong_tenant_is_404_before_authentication(sim: RunningSimulator) -> None:
    async with aiohttp.ClientSession() as session:
        status, text = await post(session, classic_url(sim.base_url, tenant="other.example.com"), {})
    assert (status, text) == (404, "HTTP 404 Not Found")
    assert TENANT != "other.example.com"
