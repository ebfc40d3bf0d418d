"""The whole-body read of an answer with a Content-Length gives exactly what the capped read gives.

``transport._reply`` reads an answer that announces its length (and is not compressed) in one go,
and everything else through the capped loop. These tests send the same awkward answers both ways,
announced and chunked (which takes the capped loop), and compare the replies; and check the cases
the capped loop is kept for: a compressed answer that inflates past the limit, and one cut short.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from reconciler.client.answer import NOT_JSON
from reconciler.client.reply import AttemptFailed, Reply
from reconciler.client.transport import post

from .scripted import ScriptedServer

LIMIT = 4096


@asynccontextmanager
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def answer(body: bytes, *, announced: bool, status: int = 200, content_type: str = "application/json",
           headers: dict[str, str] | None = None) -> Callable[[web.BaseRequest], Any]:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if announced:
            return web.Response(status=status, body=body, headers={"Content-Type": content_type, **(headers or {})})
        response = web.StreamResponse(status=status, headers={"Content-Type": content_type, **(headers or {})})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), 1000):
            await response.write(body[start:start + 1000])
        await response.write_eof()
        return response

    return handler


AWKWARD = {
    "a found record": json.dumps({"entry": {"id": "007"}, "status": {"completed": False}}).encode(),
    "an empty body": b"",
    "exactly the limit": b'["' + b"x" * (LIMIT - 4) + b'"]',
    "a proxy's page": b"<html><body>gateway</body></html>",
    "cut-off JSON": b'{"entry": {"id": "0',
    "a lone surrogate": b'{"entry": {"id": "\\ud800"}, "status": {}}',
    "JSON null": b"null",
    "not UTF-8": b'{"entry": {"id": "\xff"}}',
}


@pytest.mark.anyio
@pytest.mark.parametrize("status", [200, 404, 503])
@pytest.mark.parametrize("name", list(AWKWARD))
async def test_an_announced_answer_reads_as_the_capped_read_gives_it(server: ScriptedServer, name: str,
                                                                      status: int) -> None:
    body = AWKWARD[name]

    server.on("/announced", answer(body, announced=True, status=status, headers={"Retry-After": "3"}))
    server.on("/chunked", answer(body, announced=False, status=status, headers={"Retry-After": "3"}))
    async with session() as client:
        whole = await post(client, URL(server.base_url) / "announced", max_bytes=LIMIT, json_body={})
        capped = await post(client, URL(server.base_url) / "chunked", max_bytes=LIMIT, json_body={})
    assert whole.body == capped.body == body
    assert _same(whole, capped)
    assert whole.status == status and whole.retry_after == 3.0


def _same(one: Reply, other: Reply) -> bool:
    """Equal in every part but the URL each was asked at."""
    fields = ("status", "content_type", "body", "size", "retry_after", "location", "document")
    return all(getattr(one, name) == getattr(other, name) for name in fields)


@pytest.mark.anyio
async def test_a_compressed_answer_that_inflates_past_the_limit_is_not_read(server: ScriptedServer) -> None:
    inflated = b'["' + b"x" * 50_000 + b'"]'
    packed = gzip.compress(inflated)
    assert len(packed) < LIMIT  # announced small: only the capped read notices the size
    server.on("/bomb", answer(packed, announced=True, headers={"Content-Encoding": "gzip"}))
    async with session() as client:
        reply = await post(client, URL(server.base_url) / "bomb", max_bytes=LIMIT, json_body={})
    assert reply.status == 200 and reply.body is None and reply.document is NOT_JSON and not reply.unreadable


@pytest.mark.anyio
async def test_a_compressed_answer_within_the_limit_is_read_inflated(server: ScriptedServer) -> None:
    document = {"entry": {"id": "1"}, "status": {"completed": True}}
    server.on("/small", answer(gzip.compress(json.dumps(document).encode()), announced=True,
                               headers={"Content-Encoding": "gzip"}))
    async with session() as client:
        reply = await post(client, URL(server.base_url) / "small", max_bytes=LIMIT, json_body={})
    assert reply.document == document and reply.body == json.dumps(document).encode()


@pytest.mark.anyio
async def test_an_answer_cut_short_of_its_content_length_is_no_answer() -> None:
    async def cut_short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"entry\":")
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(cut_short, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        async with session() as client:
            with pytest.raises(AttemptFailed) as raised:
                await post(client, URL(f"http://127.0.0.1:{port}/cut"), max_bytes=LIMIT, json_body={})
    finally:
        listener.close()
        await listener.wait_closed()
    assert raised.value.reason in ("answer cut off", "connection closed by the server")
