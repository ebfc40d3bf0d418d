"""The client end to end against a scripted server on 127.0.0.1: what a user of the library sees."""

from __future__ import annotations

import logging
import math
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import anyio
import pytest
from aiohttp import web

import reconciler.client
from reconciler.client import BrightPatternClient, PageUnreadable, open_record_source
from reconciler.client.dialects import endpoints_for
from reconciler.config import Credentials, Dialect, RequestPolicy, Target
from reconciler.errors import (
    AuthenticationFailed,
    InvalidOption,
    PermissionDenied,
    RunAborted,
    TargetNotFound,
    TlsCertificateInvalid,
)
from reconciler.lookup import ListedRecord, LookupResult, LookupStatus, RecordSource, RecordStatus

from .scripted import Canned, DigestChallenger, FakeTime, ScriptedServer, found, text

LOGIN = "jane"
SECRET = "pl4nted-Secr3t-Δ"
TOKEN = "T0KEN-planted-5f2a"
TOKEN_PATH = "/configapi/v2/oauth/token"
KEY = {"account_id": "000123"}


def target(server: ScriptedServer, dialect: Dialect = "classic", *, list_name: str = "List_1.txt",
           campaign: str = "Camp 1") -> Target:
    return Target(base_url=server.base_url, tenant="acme", list_name=list_name, campaign=campaign, dialect=dialect)


def policy(**overrides: Any) -> RequestPolicy:
    settings: dict[str, Any] = {"rate": math.inf, "max_attempts": 3, "max_backoff": 0.0, "timeout": 10.0}
    return RequestPolicy(**(settings | overrides))


def query_path(server: ScriptedServer, dialect: Dialect = "classic", **names: str) -> str:
    return endpoints_for(target(server, dialect, **names)).query.raw_path


def page_path(server: ScriptedServer, dialect: Dialect = "classic") -> str:
    return endpoints_for(target(server, dialect)).page.raw_path


def token(value: str = TOKEN, expires_in: object = "3600") -> Canned:
    return Canned(json={"access_token": value, "token_type": "Bearer", "expires_in": expires_in, "scope": "acme"})


@asynccontextmanager
async def client_for(server: ScriptedServer, dialect: Dialect = "classic", *, time: FakeTime | None = None,
                     secret: str = SECRET, **settings: Any) -> AsyncIterator[BrightPatternClient]:
    time = time or FakeTime()
    async with open_record_source(target(server, dialect), Credentials(login=LOGIN, secret=secret),
                                  policy(**settings), clock=time.clock, sleep=time.sleep) as client:
        yield client


def test_the_public_face() -> None:
    assert set(reconciler.client.__all__) == {
        "BrightPatternClient", "CampaignClient", "ClientStats", "Located", "PageUnreadable", "Throttle",
        "open_record_source"}
    for name in reconciler.client.__all__:
        assert getattr(reconciler.client, name).__doc__


@pytest.mark.anyio
async def test_a_found_record_comes_back_typed(server: ScriptedServer) -> None:
    server.on(query_path(server), Canned(json={
        "entry": {"account_id": "000123", "firstname": "Mike", "note": ""},
        "status": {"completed": True, "lastDisposition": "Sale", "lastDate": "2021-02-19T19:12:21.000",
                   "lastPhone": "16505555555", "lastCallDuration": 42, "lastAgent": "elizabeth", "totalAttempts": 2}}))
    async with client_for(server) as client:
        source: RecordSource = client
        result = await source.query(KEY)
    assert result == LookupResult(
        status=LookupStatus.FOUND, attempts=1, http_status=200,
        entry={"account_id": "000123", "firstname": "Mike", "note": ""},
        record=RecordStatus(completed=True, last_disposition="Sale",
                            last_date=datetime(2021, 2, 19, 19, 12, 21, tzinfo=UTC), last_phone="16505555555",
                            last_call_duration=42, last_agent="elizabeth", total_attempts=2))
    [request] = server.seen
    assert request.json == {"account_id": "000123"}
    assert request.headers["Content-Type"] == "application/json"


@pytest.mark.anyio
async def test_key_values_are_sent_as_strings(server: ScriptedServer) -> None:
    server.on(query_path(server), found())
    async with client_for(server) as client:
        await client.query({"id": 7, "phone": "0044"})  # type: ignore[dict-item]
    assert server.seen[0].json == {"id": "7", "phone": "0044"}


@pytest.mark.anyio
async def test_names_reach_the_server_as_exactly_one_segment_each(server: ScriptedServer) -> None:
    hostile = "a/../b?x#y é"
    path = query_path(server, "v2", list_name=hostile, campaign=hostile)
    server.on(TOKEN_PATH, token())
    server.on(path, found())
    async with open_record_source(Target(base_url=server.base_url, tenant="acme", list_name=hostile,
                                         campaign=hostile, dialect="v2"),
                                  Credentials(login=LOGIN, secret=SECRET), policy(), sleep=FakeTime().sleep) as c:
        result = await c.query(KEY)
    assert result.status is LookupStatus.FOUND
    enc = "a%2F..%2Fb%3Fx%23y%20%C3%A9"
    assert server.seen[1].path == f"/configapi/v2/callinglist/get/{enc}/{enc}"


# --- classic: digest -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_classic_pays_the_digest_challenge_once_then_signs_every_request(server: ScriptedServer) -> None:
    challenger = DigestChallenger(LOGIN, SECRET, found())
    server.on(query_path(server), *[challenger] * 4)
    async with client_for(server) as client:
        results = [await client.query(KEY) for _ in range(3)]
    assert [r.status for r in results] == [LookupStatus.FOUND] * 3
    assert [r.attempts for r in results] == [1, 1, 1]
    assert challenger.challenges == 1
    assert len(server.seen) == 4  # one challenge, three signed requests
    assert all(seen.headers["Authorization"].startswith("Digest ") for seen in server.seen[1:])
    assert all(SECRET not in seen.headers["Authorization"] for seen in server.seen[1:])
    assert client.stats.requests_sent == 3


@pytest.mark.anyio
async def test_classic_with_a_wrong_password_stops_the_run_at_once(server: ScriptedServer) -> None:
    challenger = DigestChallenger(LOGIN, "the-right-one", found())
    server.on(query_path(server), *[challenger] * 10)
    async with client_for(server) as client:
        with pytest.raises(AuthenticationFailed) as raised:
            await client.query(KEY)
    assert challenger.challenges == 2  # the unsigned request and the one signed try: never more
    assert (raised.value.user, raised.value.dialect, raised.value.http_status) == (LOGIN, "classic", 401)
    assert SECRET not in str(raised.value)


@pytest.mark.anyio
async def test_a_digest_login_with_a_colon_is_refused_before_anything_is_sent(server: ScriptedServer) -> None:
    with pytest.raises(InvalidOption) as raised:
        async with open_record_source(target(server), Credentials(login="dom:jane", secret=SECRET), policy()):
            pass
    assert raised.value.option == "credentials"
    assert server.seen == []


# --- v2: bearer token ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_v2_fetches_one_token_and_sends_it_with_every_query(server: ScriptedServer) -> None:
    server.on(TOKEN_PATH, token())
    server.on(query_path(server, "v2"), found(), found(), found())
    async with client_for(server, "v2") as client:
        for _ in range(3):
            assert (await client.query(KEY)).status is LookupStatus.FOUND
    assert [seen.path for seen in server.seen] == [TOKEN_PATH] + [query_path(server, "v2")] * 3
    assert server.seen[0].body.decode() == (
        "grant_type=client_credentials&client_id=jane&client_secret=pl4nted-Secr3t-%CE%94&scope=acme")
    assert all(seen.headers["Authorization"] == f"Bearer {TOKEN}" for seen in server.seen[1:])
    assert client.stats.requests_sent == 4


@pytest.mark.anyio
async def test_v2_renews_the_token_before_it_expires(server: ScriptedServer) -> None:
    time = FakeTime()
    server.on(TOKEN_PATH, token("first", "600"), token("second", "600"))
    server.on(query_path(server, "v2"), found(), found(), found())
    async with client_for(server, "v2", time=time) as client:
        await client.query(KEY)
        time.now = 539.0
        await client.query(KEY)
        time.now = 541.0  # less than 10 % of the 600 s life left
        await client.query(KEY)
    sent = [seen.headers.get("Authorization") for seen in server.seen]
    assert sent == [None, "Bearer first", "Bearer first", None, "Bearer second"]


@pytest.mark.anyio
async def test_v2_renews_the_token_once_on_a_401_and_asks_again(server: ScriptedServer) -> None:
    server.on(TOKEN_PATH, token("revoked"), token("fresh"))
    server.on(query_path(server, "v2"), text(401, "Session is not authenticated"), found())
    async with client_for(server, "v2") as client:
        result = await client.query(KEY)
    assert result.status is LookupStatus.FOUND and result.attempts == 1
    assert [(s.path, s.headers.get("Authorization")) for s in server.seen] == [
        (TOKEN_PATH, None), (query_path(server, "v2"), "Bearer revoked"),
        (TOKEN_PATH, None), (query_path(server, "v2"), "Bearer fresh")]


@pytest.mark.anyio
async def test_v2_a_second_401_stops_the_run(server: ScriptedServer) -> None:
    server.on(TOKEN_PATH, token("one"), token("two"), token("three"))
    server.on(query_path(server, "v2"), *[text(401, "Session is not authenticated")] * 3)
    async with client_for(server, "v2") as client:
        with pytest.raises(AuthenticationFailed) as raised:
            await client.query(KEY)
    assert len(server.requests_to(TOKEN_PATH)) == 2
    assert "Session is not authenticated" in str(raised.value) and raised.value.dialect == "v2"


@pytest.mark.anyio
@pytest.mark.parametrize("status", [400, 401])
async def test_v2_a_refused_token_names_the_client_id(server: ScriptedServer, status: int) -> None:
    server.on(TOKEN_PATH, Canned(status=status, json={"error": "invalid_client"}))
    async with client_for(server, "v2") as client:
        with pytest.raises(AuthenticationFailed) as raised:
            await client.query(KEY)
    assert "'jane'" in str(raised.value) and "v2 dialect" in str(raised.value)
    assert [seen.path for seen in server.seen] == [TOKEN_PATH]  # no query went out without a token


@pytest.mark.anyio
async def test_v2_an_overloaded_token_endpoint_is_retried_like_the_query(server: ScriptedServer) -> None:
    server.on(TOKEN_PATH, text(503, "busy"), token())
    server.on(query_path(server, "v2"), found())
    async with client_for(server, "v2") as client:
        result = await client.query(KEY)
    assert (result.status, result.attempts) == (LookupStatus.FOUND, 2)
    assert client.stats.retries == 1


@pytest.mark.anyio
async def test_v2_concurrent_queries_share_one_token_fetch(server: ScriptedServer) -> None:
    server.on(TOKEN_PATH, token())
    server.on(query_path(server, "v2"), *[found()] * 8)
    async with client_for(server, "v2") as client, anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(client.query, KEY)
    assert len(server.requests_to(TOKEN_PATH)) == 1
    assert len(server.requests_to(query_path(server, "v2"))) == 8


# --- every answer ----------------------------------------------------------------------------------


def error_row(http_status: int | None, error: str, attempts: int) -> LookupResult:
    return LookupResult(status=LookupStatus.ERROR, attempts=attempts, http_status=http_status, error=error)


HTML_PAGE = "<html><body>" + "x" * 1506 + "</body></html>"  # 1532 bytes


@pytest.mark.anyio
@pytest.mark.parametrize(("answers", "expected"), [
    ([text(404, "record is not found")],
     LookupResult(status=LookupStatus.NOT_FOUND, attempts=1, http_status=404, error="record is not found")),
    ([text(400, "invalid parameters")], error_row(400, "HTTP 400: invalid parameters", 1)),
    ([text(409, "conflict")], error_row(409, "HTTP 409: conflict", 1)),
    ([text(503, "busy")] * 3, error_row(503, "HTTP 503 after 3 attempts", 3)),
    ([text(500, "oops"), text(502, "bad gateway"), text(504, "gateway timeout")],
     error_row(504, "HTTP 504 after 3 attempts", 3)),
    ([text(429, "slow down"), found()], LookupResult(
        status=LookupStatus.FOUND, attempts=2, http_status=200, entry={"id": "1"},
        record=RecordStatus(completed=False, total_attempts=0))),
    ([Canned(body=HTML_PAGE, content_type="text/html")] * 3,
     error_row(200, "HTTP 200 with a non-JSON body (text/html, 1532 bytes) after 3 attempts", 3)),
    ([Canned(body='{"entry": {"id": "1"}, "sta'), Canned(body=""), found()], LookupResult(
        status=LookupStatus.FOUND, attempts=3, http_status=200, entry={"id": "1"},
        record=RecordStatus(completed=False, total_attempts=0))),
    ([Canned(drop=True), found()], LookupResult(
        status=LookupStatus.FOUND, attempts=2, http_status=200, entry={"id": "1"},
        record=RecordStatus(completed=False, total_attempts=0))),
    ([Canned(drop=True)] * 3, error_row(None, "connection closed by the server after 3 attempts", 3)),
    ([Canned(json={"entry": {"id": "1"}, "status": {"totalAttempts": 2.5}})],
     error_row(200, "status field totalAttempts is not a whole number: 2.5", 1)),
    ([Canned(json="found")], error_row(200, "HTTP 200 with a JSON string instead of an object", 1)),
])
async def test_each_answer_gives_its_row_result(server: ScriptedServer, answers: list[Canned],
                                                expected: LookupResult) -> None:
    server.on(query_path(server), *answers)
    async with client_for(server) as client:
        assert await client.query(KEY) == expected
    assert len(server.seen) == expected.attempts  # nothing asked after the answer was final
    assert client.stats.retries == expected.attempts - 1


@pytest.mark.anyio
async def test_a_timeout_is_retried_then_an_error_row(server: ScriptedServer) -> None:
    async def hang(request: web.BaseRequest) -> web.StreamResponse:
        await anyio.sleep_forever()
        raise AssertionError

    server.on(query_path(server), hang, hang)
    async with client_for(server, timeout=0.05, max_attempts=2) as client:
        assert await client.query(KEY) == error_row(None, "timeout after 2 attempts", 2)


@pytest.mark.anyio
@pytest.mark.parametrize(("answer", "error_type", "what"), [
    (text(404, "calling list not found"), TargetNotFound, "calling list"),
    (text(404, "campaign is not found"), TargetNotFound, "campaign"),
    (text(404, "HTTP 404 Not Found"), TargetNotFound, "endpoint"),
    (text(405, "Method Not Allowed"), TargetNotFound, "endpoint"),
    (Canned(json={"entry": {"id": "1"}}), TargetNotFound, "campaign"),
    (text(401, "authentication failed"), AuthenticationFailed, None),
    (text(403, "User authenticated but does not have sufficient privileges"), PermissionDenied, None),
])
async def test_answers_fatal_to_the_run_raise_after_one_request(server: ScriptedServer, answer: Canned,
                                                                error_type: type[RunAborted], what: str | None) -> None:
    server.on(query_path(server), answer, found())
    async with client_for(server) as client:
        with pytest.raises(error_type) as raised:
            await client.query(KEY)
    assert getattr(raised.value, "what", None) == what
    assert len(server.seen) == 1


# --- waiting --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_retry_after_in_seconds_is_the_least_wait(server: ScriptedServer) -> None:
    time = FakeTime()
    server.on(query_path(server), Canned(status=503, headers={"Retry-After": "7"}), found())
    async with client_for(server, time=time, max_backoff=1.0) as client:
        result = await client.query(KEY)
    assert result.status is LookupStatus.FOUND
    assert time.sleeps == [7.0]  # the retry's wait; the throttle's pause had then passed too


@pytest.mark.anyio
async def test_retry_after_as_a_date_is_the_least_wait(server: ScriptedServer) -> None:
    time = FakeTime()
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    server.on(query_path(server), Canned(status=429, headers={"Retry-After": when}), found())
    async with client_for(server, time=time, max_backoff=1.0) as client:
        await client.query(KEY)
    assert 115.0 <= time.sleeps[0] <= 120.0
    assert sum(time.sleeps) <= 121.0


@pytest.mark.anyio
async def test_overload_answers_slow_the_whole_run(server: ScriptedServer) -> None:
    time = FakeTime()
    server.on(query_path(server), *[text(429, "slow down"), found()] * 12)
    async with client_for(server, time=time, rate=10.0, max_backoff=0.0) as client:
        for _ in range(12):
            assert (await client.query(KEY)).status is LookupStatus.FOUND
        # Every other answer a 429: once enough answers are in to judge, the run's rate is halved.
        assert client.throttle.throttle_events == 12
        assert client.throttle.effective_rate == 5.0
    gaps = [round(s, 6) for s in time.sleeps if s > 0]
    assert gaps[0] == 0.1 and gaps[-1] == 0.2  # paced at 10/s at first, at 5/s after the cut


@pytest.mark.anyio
async def test_retries_are_counted_by_what_the_attempt_before_each_got(server: ScriptedServer) -> None:
    server.on(query_path(server), text(429, "slow down"), text(503, "busy"), Canned(drop=True),
              Canned(body="<html/>", content_type="text/html"), text(429, "slow down"), found(),
              text(404, "record is not found"),  # a final answer on the first attempt: no retry
              text(502, "bad gateway"), text(502, "bad gateway"))  # exhausted: the last 502 is not retried
    async with client_for(server, max_attempts=6) as client:
        assert (await client.query(KEY)).status is LookupStatus.FOUND
        assert (await client.query(KEY)).status is LookupStatus.NOT_FOUND
    async with client_for(server, max_attempts=2) as other:
        assert (await other.query(KEY)).status is LookupStatus.ERROR
    assert client.stats.retries == 5
    assert dict(client.stats.retries_by_status) == {"429": 2, "503": 1, "no_answer": 1, "unreadable": 1}
    assert dict(other.stats.retries_by_status) == {"502": 1} and other.stats.retries == 1


@pytest.mark.anyio
async def test_the_client_stats_hold_the_throttle_s_cuts_and_pauses(server: ScriptedServer) -> None:
    time = FakeTime()
    server.on(query_path(server), Canned(status=503, headers={"Retry-After": "3"}), found(),
              *[text(429, "slow down"), found()] * 12)
    async with client_for(server, time=time, rate=10.0, max_backoff=0.0) as client:
        for _ in range(13):
            assert (await client.query(KEY)).status is LookupStatus.FOUND
    throttling = client.stats.throttling
    assert (throttling.overload_answers, throttling.rate_cuts, throttling.lowest_rate) == (13, 1, 5.0)
    assert (throttling.retry_after_pauses, throttling.retry_after_seconds) == (1, 3.0)
    assert dict(client.stats.retries_by_status) == {"503": 1, "429": 12}


@pytest.mark.anyio
async def test_requests_start_paced_from_the_first(server: ScriptedServer) -> None:
    time = FakeTime()
    server.on(query_path(server), *[found()] * 4)
    async with client_for(server, time=time, rate=4.0) as client:
        for _ in range(4):
            await client.query(KEY)
    assert time.sleeps == [0.25, 0.25, 0.25]


# --- redirects and size ----------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("status", [307, 308])
async def test_a_same_origin_307_or_308_is_followed_with_the_same_body(server: ScriptedServer, status: int) -> None:
    server.on(query_path(server), Canned(status=status, headers={"Location": "/moved/here"}))
    server.on("/moved/here", found())
    async with client_for(server) as client:
        result = await client.query(KEY)
    assert (result.status, result.attempts) == (LookupStatus.FOUND, 1)
    assert [seen.json for seen in server.seen] == [KEY, KEY]


@pytest.mark.anyio
async def test_more_than_three_redirects_is_an_error_row(server: ScriptedServer) -> None:
    for hop in range(5):
        path = query_path(server) if hop == 0 else f"/hop{hop}"
        server.on(path, Canned(status=307, headers={"Location": f"/hop{hop + 1}"}))
    async with client_for(server) as client:
        assert await client.query(KEY) == error_row(307, "HTTP 307: too many redirects", 1)
    assert len(server.seen) == 4


@pytest.mark.anyio
@pytest.mark.parametrize("dialect", ["classic", "v2"])
async def test_credentials_never_follow_a_redirect_to_another_origin(server: ScriptedServer,
                                                                   dialect: Dialect) -> None:
    async with ScriptedServer() as elsewhere:  # same host, another port
        server.on(TOKEN_PATH, token())
        server.on(query_path(server, dialect), Canned(status=307, headers={"Location": elsewhere.base_url + "steal"}))
        async with client_for(server, dialect) as client:
            result = await client.query(KEY)
        origin = elsewhere.base_url.rstrip("/")
    assert result.error == f"redirected to {origin}; set --base-url to the final address"
    assert elsewhere.seen == []


@pytest.mark.anyio
async def test_a_301_is_not_followed(server: ScriptedServer) -> None:
    server.on(query_path(server), Canned(status=301, headers={"Location": "/new/path"}))
    async with client_for(server) as client:
        result = await client.query(KEY)
    assert result == error_row(301, "HTTP 301 redirect to /new/path; set --base-url to the final address", 1)


@pytest.mark.anyio
async def test_an_answer_over_the_size_limit_is_an_error_row_not_retried(server: ScriptedServer) -> None:
    server.on(query_path(server), Canned(json={"entry": {"blob": "x" * 5000}, "status": {}}), found())
    async with client_for(server, max_answer_bytes=4096) as client:
        assert await client.query(KEY) == error_row(200, "answer larger than 4096 bytes", 1)


# --- getAll pages ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_page_is_asked_by_index_and_size(server: ScriptedServer) -> None:
    server.on(page_path(server), Canned(json=[
        {"index": 1000, "entry": {"id": "a"}, "status": {"completed": True, "totalAttempts": 1}},
        {"index": 1001, "entry": {"id": "b"}}]))
    async with client_for(server) as client:
        page = await client.fetch_page(1000, 1000)
    assert page == [ListedRecord(index=1000, entry={"id": "a"}, record=RecordStatus(completed=True, total_attempts=1)),
                    ListedRecord(index=1001, entry={"id": "b"}, record=None)]
    assert server.seen[0].json == {"fromIndex": 1000, "maxSize": 1000}


@pytest.mark.anyio
async def test_a_page_past_the_end_is_empty(server: ScriptedServer) -> None:
    server.on(page_path(server), Canned(json=[]))
    async with client_for(server) as client:
        assert await client.fetch_page(5000, 1000) == []


@pytest.mark.anyio
async def test_a_page_of_an_unbound_list_stops_the_run(server: ScriptedServer) -> None:
    server.on(page_path(server), text(404, "campaign is not found"))
    async with client_for(server) as client:
        with pytest.raises(TargetNotFound) as raised:
            await client.fetch_page(0, 1000)
    assert raised.value.what == "campaign"


@pytest.mark.anyio
async def test_a_page_never_readable_stops_the_run_after_the_last_attempt(server: ScriptedServer) -> None:
    server.on(page_path(server), text(502, "bad gateway"), Canned(body="<html/>", content_type="text/html"),
              Canned(body="<html/>", content_type="text/html"))
    async with client_for(server) as client:
        with pytest.raises(PageUnreadable) as raised:
            await client.fetch_page(0, 1000)
    assert raised.value.reason == "HTTP 200 with a non-JSON body (text/html, 7 bytes) after 3 attempts"
    assert client.stats.retries == 2


# --- secrets ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_no_secret_or_token_reaches_a_result_an_error_or_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    scenarios: list[tuple[Dialect, list[Canned], list[Canned]]] = [
        ("v2", [token()], [text(400, "bad body")]),
        ("v2", [token()], [text(503, "busy")] * 3),
        ("v2", [token()], [Canned(body="<html>login</html>", content_type="text/html")] * 3),
        ("v2", [token()], [Canned(status=307, headers={"Location": "https://evil.example.net/"})]),
        ("v2", [token(), token()], [text(401, "Session is not authenticated")] * 2),
        ("v2", [text(401, f"bad client_secret {SECRET}")], []),
        ("v2", [token()], [text(403, "no privilege")]),
        ("v2", [token()], [text(404, "HTTP 404 Not Found")]),
        ("classic", [], [text(401, "authentication failed")]),
        ("classic", [], [Canned(drop=True)] * 3),
        ("classic", [], [text(404, "campaign is not found")]),
    ]
    for dialect, tokens, answers in scenarios:
        async with ScriptedServer() as server:
            server.on(TOKEN_PATH, *tokens)
            server.on(query_path(server, dialect), *answers)
            async with client_for(server, dialect, verify_tls=False) as client:
                try:
                    result = await client.query(KEY)
                except RunAborted as exc:
                    texts += [str(exc), repr(exc)]
                else:
                    texts += [str(result.error), repr(result)]
    assert len(texts) == 2 * len(scenarios)
    for leaked in (SECRET, TOKEN):
        assert not [t for t in texts if leaked in t]
        assert leaked not in caplog.text


# --- session ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_turning_tls_verification_off_warns_once(server: ScriptedServer,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    server.on(query_path(server), found(), found())
    async with client_for(server, verify_tls=False) as client:
        await client.query(KEY)
        await client.query(KEY)
    warnings = [r for r in caplog.records if r.name == "reconciler.client" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "NOT verified" in warnings[0].getMessage()


@pytest.mark.anyio
async def test_tls_verification_stays_on_silently_by_default(server: ScriptedServer,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    server.on(query_path(server), found())
    async with client_for(server) as client:
        await client.query(KEY)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.anyio
async def test_at_most_concurrency_requests_are_in_flight(server: ScriptedServer) -> None:
    in_flight = peak = 0
    release = anyio.Event()

    async def slow(request: web.BaseRequest) -> web.StreamResponse:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if peak == 3:
            release.set()
        await release.wait()
        in_flight -= 1
        return await found().respond(request)

    server.on(query_path(server), *[slow] * 9)
    async with client_for(server, concurrency=3) as client, anyio.create_task_group() as group:
        for _ in range(9):
            group.start_soon(client.query, KEY)
    assert peak == 3


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server TLS context with a certificate no client trusts."""
    openssl = shutil.which("openssl")
    assert openssl is not None, "the openssl command is needed to make a test certificate (apt-get install openssl)"
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.anyio
async def test_a_certificate_that_cannot_be_verified_stops_the_run(self_signed: ssl.SSLContext) -> None:
    async with ScriptedServer(self_signed) as server:
        server.on(query_path(server), found())
        base_url = server.base_url
        async with client_for(server) as client:
            with pytest.raises(TlsCertificateInvalid) as raised:
                await client.query(KEY)
    assert base_url.startswith("https://") and raised.value.url == base_url.rstrip("/")
    assert "certificate verify failed" in str(raised.value) and "--insecure" in str(raised.value)
    assert server.seen == []


@pytest.mark.anyio
async def test_insecure_mode_talks_to_a_self_signed_server(self_signed: ssl.SSLContext) -> None:
    async with ScriptedServer(self_signed) as server:
        server.on(query_path(server), found())
        async with client_for(server, verify_tls=False) as client:
            assert (await client.query(KEY)).status is LookupStatus.FOUND
