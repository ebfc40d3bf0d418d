"""The client's classification of every answer, with aiohttp mocked by aioresponses.

aioresponses replaces ``ClientSession._request`` and so skips the session middlewares: digest
authentication, raw paths and dropped connections are covered against the scripted loopback
server (test_client.py). Here: each status and body text, Retry-After, and the v2 token's renewal.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any
from unittest.mock import Mock

import aioresponses.core as aioresponses_core
import pytest
from aiohttp import ClientResponse
from aioresponses import aioresponses

from reconciler.client import BrightPatternClient, open_record_source
from reconciler.client.dialects import endpoints_for
from reconciler.config import Credentials, Dialect, RequestPolicy, Target
from reconciler.errors import AuthenticationFailed, PermissionDenied, RunAborted, TargetNotFound
from reconciler.lookup import LookupResult, LookupStatus, RecordStatus

from .scripted import FakeTime

BASE = "http://bp.example"
TOKEN_URL = f"{BASE}/configapi/v2/oauth/token"
KEY = {"account_id": "000123"}
FOUND = {"entry": {"account_id": "000123", "firstName": "Noël"}, "status": {"completed": True, "totalAttempts": 2}}
FOUND_RESULT = RecordStatus(completed=True, total_attempts=2)


class _ResponseForAiohttp314(ClientResponse):
    """aioresponses 0.7.9 builds responses without aiohttp 3.14's ``stream_writer`` argument
    (pnuckowski/aioresponses#289; drop this when its fix, PR #288, is released)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", Mock(output_size=0))
        super().__init__(*args, **kwargs)


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    monkeypatch.setattr(aioresponses_core, "ClientResponse", _ResponseForAiohttp314)
    with aioresponses() as mock:
        yield mock


def target(dialect: Dialect = "classic") -> Target:
    return Target(base_url=BASE, tenant="acme", list_name="List_1.txt", campaign="Camp 1", dialect=dialect)


def query_url(dialect: Dialect = "classic") -> str:
    return str(endpoints_for(target(dialect)).query)


async def ask(dialect: Dialect = "classic") -> tuple[LookupResult, BrightPatternClient]:
    time = FakeTime()
    policy = RequestPolicy(rate=math.inf, max_attempts=3, max_backoff=0.0)
    async with open_record_source(target(dialect), Credentials(login="jane", secret="s3cret"), policy,
                                  clock=time.clock, sleep=time.sleep) as client:
        return await client.query(KEY), client


def error_row(http_status: int | None, error: str, attempts: int) -> LookupResult:
    return LookupResult(status=LookupStatus.ERROR, attempts=attempts, http_status=http_status, error=error)


@pytest.mark.anyio
@pytest.mark.parametrize(("answers", "expected"), [
    ([(200, FOUND)], LookupResult(status=LookupStatus.FOUND, attempts=1, http_status=200, entry=FOUND["entry"],
                                  record=FOUND_RESULT)),
    ([(404, "record is not found")],
     LookupResult(status=LookupStatus.NOT_FOUND, attempts=1, http_status=404, error="record is not found")),
    ([(400, "invalid parameters")], error_row(400, "HTTP 400: invalid parameters", 1)),
    ([(400, "Unexpected character ('x' (code 120))")],
     error_row(400, "HTTP 400: Unexpected character ('x' (code 120))", 1)),
    ([(503, "busy")] * 3, error_row(503, "HTTP 503 after 3 attempts", 3)),
    ([(500, "oops"), (502, "bad gateway"), (504, "gateway timeout")], error_row(504, "HTTP 504 after 3 attempts", 3)),
    ([(429, "slow down"), (200, FOUND)], LookupResult(status=LookupStatus.FOUND, attempts=2, http_status=200,
                                                      entry=FOUND["entry"], record=FOUND_RESULT)),
    ([(200, "<html>proxy error</html>")] * 3,
     error_row(200, "HTTP 200 with a non-JSON body (text/html, 24 bytes) after 3 attempts", 3)),
], ids=["found", "record not found", "invalid parameters", "JSON parse error", "503 thrice", "5xx thrice",
        "429 then found", "HTML page thrice"])
async def test_each_answer_gives_its_row_result(mocked: aioresponses, answers: list[tuple[int, object]],
                                                expected: LookupResult) -> None:
    for status, body in answers:
        if isinstance(body, dict):
            mocked.post(query_url(), status=status, payload=body)
        else:
            html = isinstance(body, str) and body.startswith("<html>")
            mocked.post(query_url(), status=status, body=body, content_type="text/html" if html else "text/plain")
    result, client = await ask()
    assert result == expected
    assert client.stats.retries == expected.attempts - 1
    sent = [call.kwargs for call in next(iter(mocked.requests.values()))]
    assert len(sent) == expected.attempts  # nothing asked after the answer was final


@pytest.mark.anyio
async def test_a_lone_surrogate_escape_makes_the_row_an_error_not_a_crash(mocked: aioresponses) -> None:
    # "\\ud83d\\ude00" is one character (an emoji); "\\ud83d" alone is JSON but not text, and the
    # journal and the table could not store it.
    pair = b'{"entry": {"account_id": "000123", "note": "\\ud83d\\ude00"}, "status": {"totalAttempts": 1}}'
    lone = pair.replace(b"\\ude00", b"")
    mocked.post(query_url(), status=200, body=pair, content_type="application/json")
    mocked.post(query_url(), status=200, body=lone, content_type="application/json")
    found, _ = await ask()
    assert found.entry == {"account_id": "000123", "note": "\U0001F600"}
    refused, client = await ask()
    assert refused == error_row(200, "the answer holds a lone surrogate escape (\\uD800 to \\uDFFF), "
                                     "which no table can store", 1)
    assert client.stats.retries == 0  # the server would send the same again


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "body", "error_type", "what"), [
    (401, "authentication failed", AuthenticationFailed, None),
    (403, "User authenticated but does not have sufficient privileges", PermissionDenied, None),
    (404, "calling list not found", TargetNotFound, "calling list"),
    (404, "campaign is not found", TargetNotFound, "campaign"),
    (200, {"entry": {"account_id": "000123"}}, TargetNotFound, "campaign"),  # a 200 without status
])
async def test_answers_fatal_to_the_run_raise_after_one_request(
        mocked: aioresponses, status: int, body: object, error_type: type[RunAborted], what: str | None) -> None:
    if isinstance(body, dict):
        mocked.post(query_url(), status=status, payload=body)
    else:
        mocked.post(query_url(), status=status, body=str(body), content_type="text/plain")
    mocked.post(query_url(), status=200, payload=FOUND)
    with pytest.raises(error_type) as raised:
        await ask()
    assert getattr(raised.value, "what", None) == what
    assert len(next(iter(mocked.requests.values()))) == 1


@pytest.mark.anyio
async def test_retry_after_is_waited_before_the_next_attempt(mocked: aioresponses) -> None:
    mocked.post(query_url(), status=429, body="slow down", headers={"Retry-After": "7"})
    mocked.post(query_url(), status=200, payload=FOUND)
    time = FakeTime()
    policy = RequestPolicy(rate=math.inf, max_attempts=3, max_backoff=0.0)
    async with open_record_source(target(), Credentials(login="jane", secret="s3cret"), policy,
                                  clock=time.clock, sleep=time.sleep) as client:
        assert (await client.query(KEY)).status is LookupStatus.FOUND
    assert sum(time.sleeps) >= 7


@pytest.mark.anyio
async def test_v2_renews_its_token_once_on_a_401_and_asks_again(mocked: aioresponses) -> None:
    mocked.post(TOKEN_URL, payload={"access_token": "first", "token_type": "Bearer", "expires_in": "3600"})
    mocked.post(TOKEN_URL, payload={"access_token": "second", "token_type": "Bearer", "expires_in": "3600"})
    mocked.post(query_url("v2"), status=401, body="token expired", content_type="text/plain")
    mocked.post(query_url("v2"), status=200, payload=FOUND)
    result, _ = await ask("v2")

    assert result.status is LookupStatus.FOUND
    queries = [call for (method, url), calls in mocked.requests.items() if str(url) == query_url("v2")
               for call in calls]
    assert [call.kwargs["headers"]["Authorization"] for call in queries] == ["Bearer first", "Bearer second"]
    tokens = [call for (method, url), calls in mocked.requests.items() if str(url) == TOKEN_URL for call in calls]
    assert len(tokens) == 2
    assert tokens[0].kwargs["data"]["scope"] == "acme"
