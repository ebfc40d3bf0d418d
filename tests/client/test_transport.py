from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.client_reqrep import ConnectionKey
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from reconciler.client.answer import NOT_JSON
from reconciler.client.reply import AttemptFailed
from reconciler.client.transport import post
from reconciler.errors import ProxyRefused, TlsCertificateInvalid

from .scripted import Canned, ScriptedServer

KEY = ConnectionKey("bp.example.com", 443, True, True, None, None, None)
URL_ = URL("https://bp.example.com/admin/ws/t/acme/callinglist/get/L/C")


class FailingSession:
    """Stands in for a ClientSession whose every request raises ``error``."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    @asynccontextmanager
    async def post(self, *args: Any, **kwargs: Any) -> AsyncIterator[None]:
        raise self.error
        yield


@pytest.mark.anyio
@pytest.mark.parametrize(("error", "reason", "connected"), [
    (TimeoutError(), "timeout", True),
    (aiohttp.ServerTimeoutError("read"), "timeout", True),
    (aiohttp.ServerDisconnectedError(), "connection closed by the server", True),
    (aiohttp.ClientPayloadError("cut"), "answer cut off", True),
    (aiohttp.ClientConnectionResetError("reset"), "connection failed (ClientConnectionResetError)", True),
    (aiohttp.ClientOSError(104, "Connection reset by peer"), "connection failed (ClientOSError)", True),
    (aiohttp.ClientError("Malformed Digest auth challenge"), "request failed (ClientError)", True),
    # No connection made at all: host:port and why, as an operator reads them (asyncio's own text
    # for a refused connection is "Connect call failed (...)", which does not say why).
    (aiohttp.ConnectionTimeoutError("connect"), "cannot connect to bp.example.com:443 (connection timed out)", False),
    (aiohttp.ClientConnectorError(KEY, ConnectionRefusedError(111, "Connect call failed ('10.0.0.1', 443)")),
     "cannot connect to bp.example.com:443 (connection refused)", False),
    (aiohttp.ClientConnectorError(KEY, OSError(113, "Connect call failed")),
     "cannot connect to bp.example.com:443 (no route to host)", False),
    (aiohttp.ClientConnectorDNSError(KEY, socket.gaierror(-2, "Name or service not known")),
     "cannot connect to bp.example.com:443 (DNS lookup failed: Name or service not known)", False),
])
async def test_no_answer_at_all_is_an_attempt_worth_repeating(error: BaseException, reason: str,
                                                              connected: bool) -> None:
    session: Any = FailingSession(error)
    with pytest.raises(AttemptFailed) as raised:
        await post(session, URL_, max_bytes=1024, json_body={})
    assert raised.value.reason == reason
    assert raised.value.connected is connected


@pytest.mark.anyio
@pytest.mark.parametrize("error", [
    aiohttp.ClientConnectorCertificateError(KEY, ssl.SSLCertVerificationError(
        1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate")),
    aiohttp.ClientConnectorSSLError(KEY, ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")),
])
async def test_a_rejected_certificate_stops_the_run(error: BaseException) -> None:
    session: Any = FailingSession(error)
    with pytest.raises(TlsCertificateInvalid) as raised:
        await post(session, URL_, max_bytes=1024, json_body={})
    assert raised.value.url == "https://bp.example.com"
    assert "--insecure" in str(raised.value)


def proxy_answer(status: int, reason: str) -> aiohttp.ClientHttpProxyError:
    """What aiohttp raises when the proxy answers CONNECT with ``status`` (its URL may hold the password)."""
    proxy = URL("http://svc:pr0xy-pass@proxy.corp.example:3128")
    info = aiohttp.RequestInfo(proxy, "GET", CIMultiDictProxy(CIMultiDict()), proxy)
    return aiohttp.ClientHttpProxyError(info, (), status=status, message=reason)


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "reason", "fix"), [
    (407, "Proxy Authentication Required", "set the proxy's user and password in HTTPS_PROXY or HTTP_PROXY"),
    (401, "Unauthorized", "set the proxy's user and password"),  # tinyproxy's answer to wrong credentials
    (403, "Forbidden", "ask for bp.example.com:443 to be allowed through it, or name the host in NO_PROXY"),
])
async def test_a_proxy_that_refuses_the_tunnel_stops_the_run_without_its_password(status: int, reason: str,
                                                                                   fix: str) -> None:
    session: Any = FailingSession(proxy_answer(status, reason))
    with pytest.raises(ProxyRefused) as raised:
        await post(session, URL_, max_bytes=1024, json_body={})
    message = str(raised.value)
    assert message.startswith(f"the proxy http://proxy.corp.example:3128 refused to reach bp.example.com:443 "
                              f"(HTTP {status} {reason}); ")
    assert fix in message and "pr0xy-pass" not in message and "svc" not in message
    assert raised.value.exit_code == 3


@pytest.mark.anyio
@pytest.mark.parametrize("status", [502, 503, 504])
async def test_a_proxy_that_cannot_reach_the_server_is_an_attempt_worth_repeating(status: int) -> None:
    session: Any = FailingSession(proxy_answer(status, "Bad Gateway"))
    with pytest.raises(AttemptFailed) as raised:
        await post(session, URL_, max_bytes=1024, json_body={})
    assert raised.value.reason == f"the proxy answered HTTP {status}"


@asynccontextmanager
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def big(size: int, *, announced: bool) -> Callable[[web.BaseRequest], Any]:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if announced:
            return web.Response(body=b"x" * size, content_type="application/json")
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(size // 1000):
            await response.write(b"[" * 1000)
        await response.write_eof()
        return response

    return handler


@pytest.mark.anyio
@pytest.mark.parametrize("announced", [True, False])
async def test_an_answer_larger_than_the_limit_is_not_read(server: ScriptedServer, announced: bool) -> None:
    server.on("/big", big(50_000, announced=announced))
    async with session() as client:
        reply = await post(client, URL(server.base_url) / "big", max_bytes=4096, json_body={})
    assert reply.status == 200 and reply.body is None and reply.document is NOT_JSON and not reply.unreadable


@pytest.mark.anyio
async def test_an_answer_of_exactly_the_limit_is_read(server: ScriptedServer) -> None:
    document = b'["' + b"x" * 4092 + b'"]'
    server.on("/fit", Canned(body=document))
    async with session() as client:
        reply = await post(client, URL(server.base_url) / "fit", max_bytes=4096, json_body={})
    assert len(document) == 4096 and reply.body == document and reply.document == ["x" * 4092]


@pytest.mark.anyio
async def test_a_reply_keeps_what_the_client_needs_and_nothing_else(server: ScriptedServer) -> None:
    server.on("/busy", Canned(status=503, body="<html>busy</html>", content_type="text/html; charset=UTF-8",
                              headers={"Retry-After": "12", "Location": "/elsewhere", "Set-Cookie": "s=1"}))
    async with session() as client:
        reply = await post(client, URL(server.base_url) / "busy", max_bytes=4096, json_body={"id": "1"})
    assert (reply.status, reply.content_type) == (503, "text/html")
    assert (reply.retry_after, reply.location) == (12.0, "/elsewhere")
    assert reply.body == b"<html>busy</html>" and reply.document is NOT_JSON  # only a 200 is parsed
    assert server.seen[0].json == {"id": "1"}
    assert server.seen[0].headers["Content-Type"] == "application/json"


@pytest.mark.anyio
async def test_a_form_is_sent_url_encoded(server: ScriptedServer) -> None:
    server.on("/token", Canned(json={"access_token": "t"}))
    async with session() as client:
        reply = await post(client, URL(server.base_url) / "token", max_bytes=4096,
                           form={"grant_type": "client_credentials", "scope": "acme corp"})
    assert reply.document == {"access_token": "t"}
    assert server.seen[0].body == b"grant_type=client_credentials&scope=acme+corp"
    assert server.seen[0].headers["Content-Type"] == "application/x-www-form-urlencoded"


@pytest.mark.anyio
async def test_redirects_are_not_followed_by_aiohttp(server: ScriptedServer) -> None:
    server.on("/moved", Canned(status=307, headers={"Location": "/new"}))
    async with session() as client:
        reply = await post(client, URL(server.base_url) / "moved", max_bytes=4096, json_body={})
    assert (reply.status, reply.location) == (307, "/new")
    assert [seen.path for seen in server.seen] == ["/moved"]
