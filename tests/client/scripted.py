"""A scripted HTTP server on 127.0.0.1 for the client's tests, and a fake clock.

aioresponses (test_mocked_answers.py) patches ``ClientSession._request``, which bypasses the
session middlewares that carry digest authentication; a real loopback server exercises the whole
client: middlewares, raw paths, Content-Length, dropped connections.
"""

from __future__ import annotations

import hashlib
import json
import ssl
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
from aiohttp import web
from aiohttp.test_utils import RawTestServer
from multidict import CIMultiDict, CIMultiDictProxy

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Canned:
    """One answer: a JSON document (``json``) or raw ``body``; ``drop`` closes the connection instead."""

    status: int = 200
    json: object = None
    body: bytes | str | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False

    async def respond(self, request: web.BaseRequest) -> web.StreamResponse:
        if self.drop:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        body = self.body if self.body is not None else json.dumps(self.json)
        data = body.encode() if isinstance(body, str) else body
        return web.Response(status=self.status, body=data, headers={"Content-Type": self.content_type, **self.headers})


def found(entry: dict[str, object] | None = None, **status: object) -> Canned:
    """A 200 answer with a record."""
    return Canned(json={"entry": entry or {"id": "1"}, "status": status or {"completed": False, "totalAttempts": 0}})


def text(status: int, message: str) -> Canned:
    return Canned(status=status, body=message, content_type="text/plain")


@dataclass(frozen=True)
class Seen:
    """A request the server received."""

    path: str  # raw, as sent on the wire
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def json(self) -> object:
        return json.loads(self.body)


class ScriptedServer:
    """Answers each path from its queue of answers; records every request."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.script: dict[str, deque[Canned | Handler]] = defaultdict(deque)
        self.seen: list[Seen] = []
        self.server = RawTestServer(self._handle)
        self._ssl = ssl_context

    async def __aenter__(self) -> ScriptedServer:
        await self.server.start_server(ssl=self._ssl)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.server.close()

    @property
    def base_url(self) -> str:
        return str(self.server.make_url("/"))

    def on(self, path: str, *answers: Canned | Handler) -> None:
        """Queue ``answers`` for ``path`` (raw); an unscripted request gets 418."""
        self.script[path].extend(answers)

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.seen.append(Seen(request.raw_path, CIMultiDictProxy(CIMultiDict(request.headers)), await request.read()))
        queue = self.script.get(request.raw_path)
        if not queue:
            return web.Response(status=418, text=f"unscripted request {request.method} {request.raw_path}")
        answer = queue.popleft()
        return await (answer.respond(request) if isinstance(answer, Canned) else answer(request))


class DigestChallenger:
    """An RFC 7616 digest server (MD5, qop=auth) for one user; counts the challenges it sent."""

    realm, nonce = "BPCC", "4e2f1a"

    def __init__(self, login: str, password: str, answer: Canned) -> None:
        self.login, self.password, self.answer = login, password, answer
        self.challenges = 0

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        if self._verified(request):
            return await self.answer.respond(request)
        self.challenges += 1
        challenge = f'Digest realm="{self.realm}", nonce="{self.nonce}", qop="auth", algorithm=MD5'
        return web.Response(status=401, text="authentication failed", headers={"WWW-Authenticate": challenge})

    def _verified(self, request: web.BaseRequest) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Digest "):
            return False
        fields = dict(part.strip().split("=", 1) for part in header[len("Digest "):].split(","))
        values = {name: value.strip('"') for name, value in fields.items()}

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = md5(f"{values['username']}:{self.realm}:{self.password}")
        ha2 = md5(f"{request.method}:{values['uri']}")
        expected = md5(f"{ha1}:{values['nonce']}:{values['nc']}:{values['cnonce']}:auth:{ha2}")
        return values["username"] == self.login and values["uri"] == request.raw_path and \
            values["response"] == expected


class FakeTime:
    """An injected clock and sleep: sleeping records the duration and moves the clock on at once."""

    def __init__(self, *, advance: bool = True) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._advance = advance

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self._advance:
            self.now += max(seconds, 0.0)
        await anyio.lowlevel.checkpoint()
