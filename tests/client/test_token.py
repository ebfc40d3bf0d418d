from __future__ import annotations

import json
import logging
from collections.abc import Mapping

import anyio
import pytest
from yarl import URL

from reconciler.client.reply import Reply
from reconciler.client.token import TokenSource
from reconciler.config import Credentials
from reconciler.errors import AuthenticationFailed, TargetNotFound

from .scripted import FakeTime

TOKEN_URL = URL("https://bp.example.com/configapi/v2/oauth/token")
SECRET = "pl4nted-Secr3t"
CREDENTIALS = Credentials(login="api-client", secret=SECRET)


def granted(token: str, expires_in: object = "3600") -> Reply:
    document = {"access_token": token, "token_type": "Bearer", "expires_in": expires_in, "scope": "acme"}
    return Reply(status=200, url=TOKEN_URL, body=json.dumps(document).encode(), document=document)


def refused(status: int, text: str) -> Reply:
    return Reply(status=status, url=TOKEN_URL, body=text.encode(), content_type="text/plain")


class TokenEndpoint:
    """Gives its replies in turn; records the forms posted."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.forms: list[dict[str, str]] = []

    async def post(self, url: URL, form: Mapping[str, str]) -> Reply:
        assert url == TOKEN_URL
        self.forms.append(dict(form))
        await anyio.lowlevel.checkpoint()  # let concurrent callers run meanwhile
        return self.replies.pop(0)


def source(endpoint: TokenEndpoint, time: FakeTime) -> TokenSource:
    return TokenSource(endpoint.post, TOKEN_URL, CREDENTIALS, "acme.brightpattern.com", clock=time.clock)


@pytest.mark.anyio
async def test_the_token_is_asked_with_client_credentials() -> None:
    endpoint = TokenEndpoint(granted("t1"))
    assert await source(endpoint, FakeTime()).bearer() == "t1"
    assert endpoint.forms == [{"grant_type": "client_credentials", "client_id": "api-client",
                               "client_secret": SECRET, "scope": "acme.brightpattern.com"}]


@pytest.mark.anyio
@pytest.mark.parametrize(("expires_in", "renewed_at"), [
    ("3600", 3540.0),  # a string, as BPCC sends it: renewed 60 s before expiry
    (3600, 3540.0),
    (100, 90.0),  # a short life: renewed with 10 % of it left
    ("600", 540.0),
    ("soon", 3540.0),  # unreadable: the hour BPCC grants
    (None, 3540.0),
    (True, 3540.0),
    (-5, 3540.0),
])
async def test_the_token_is_renewed_shortly_before_it_expires(expires_in: object, renewed_at: float) -> None:
    time = FakeTime()
    endpoint = TokenEndpoint(granted("t1", expires_in), granted("t2"))
    tokens = source(endpoint, time)
    assert await tokens.bearer() == "t1"
    time.now = renewed_at - 0.01
    assert await tokens.bearer() == "t1"
    assert len(endpoint.forms) == 1
    time.now = renewed_at
    assert await tokens.bearer() == "t2"
    assert len(endpoint.forms) == 2


@pytest.mark.anyio
async def test_concurrent_callers_share_one_fetch() -> None:
    endpoint = TokenEndpoint(granted("t1"))
    tokens = source(endpoint, FakeTime())
    got: list[str | Reply] = []

    async def ask() -> None:
        got.append(await tokens.bearer())

    async with anyio.create_task_group() as group:
        for _ in range(10):
            group.start_soon(ask)
    assert got == ["t1"] * 10
    assert len(endpoint.forms) == 1


@pytest.mark.anyio
async def test_invalidating_the_token_fetches_a_new_one_once() -> None:
    endpoint = TokenEndpoint(granted("t1"), granted("t2"))
    tokens = source(endpoint, FakeTime())
    assert await tokens.bearer() == "t1"
    tokens.invalidate("t1")
    assert await tokens.bearer() == "t2"
    tokens.invalidate("t1")  # a late 401 for the old token must not throw the new one away
    assert await tokens.bearer() == "t2"
    assert len(endpoint.forms) == 2


@pytest.mark.anyio
@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_an_overloaded_token_endpoint_hands_its_reply_back_to_be_retried(status: int) -> None:
    endpoint = TokenEndpoint(refused(status, "busy"), granted("t1"))
    tokens = source(endpoint, FakeTime())
    assert await tokens.bearer() == refused(status, "busy")
    assert await tokens.bearer() == "t1"


@pytest.mark.anyio
@pytest.mark.parametrize(("reply", "detail"), [
    (refused(400, '{"error": "invalid_client"}'), '{"error": "invalid_client"}'),
    (refused(401, "Bad credentials"), "Bad credentials"),
    (refused(403, ""), "no detail given"),
    (refused(400, f"invalid client_secret={SECRET}"), "invalid client_secret=***"),
    (Reply(status=200, url=TOKEN_URL, body=b'{"token_type": "Bearer"}', document={"token_type": "Bearer"}),
     "the answer holds no access_token"),
    (Reply(status=200, url=TOKEN_URL, body=b'{"access_token": ""}', document={"access_token": ""}),
     "the answer holds no access_token"),
    (Reply(status=200, url=TOKEN_URL, body=b"[]", document=[]), "[]"),
    (granted("abc\r\nX-Injected: 1"), "not a usable header value"),
    (granted("abc def"), "not a usable header value"),
])
async def test_a_refused_token_stops_the_run_naming_the_client(reply: Reply, detail: str) -> None:
    with pytest.raises(AuthenticationFailed) as raised:
        await source(TokenEndpoint(reply), FakeTime()).bearer()
    assert (raised.value.user, raised.value.dialect, raised.value.http_status) == ("api-client", "v2", reply.status)
    assert detail in str(raised.value)
    assert SECRET not in str(raised.value)


@pytest.mark.anyio
@pytest.mark.parametrize("status", [404, 405])
async def test_a_missing_token_endpoint_stops_the_run(status: int) -> None:
    with pytest.raises(TargetNotFound) as raised:
        await source(TokenEndpoint(refused(status, "HTTP 404 Not Found")), FakeTime()).bearer()
    assert raised.value.what == "endpoint" and "/configapi/v2/oauth/token" in str(raised.value)


@pytest.mark.anyio
async def test_neither_secret_nor_token_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    time = FakeTime()
    tokens = source(TokenEndpoint(granted("T0KEN-planted"), granted("T0KEN-planted-2")), time)
    await tokens.bearer()
    tokens.invalidate("T0KEN-planted")
    await tokens.bearer()
    assert caplog.records  # the fetches are logged...
    assert "T0KEN-planted" not in caplog.text and SECRET not in caplog.text  # ...without what they carry


@pytest.mark.anyio
async def test_a_proxy_page_instead_of_a_token_is_handed_back_to_be_retried() -> None:
    page = Reply(status=200, url=TOKEN_URL, body=b"<html>502</html>", content_type="text/html")
    tokens = source(TokenEndpoint(page, granted("t1")), FakeTime())
    assert await tokens.bearer() == page
    assert await tokens.bearer() == "t1"
