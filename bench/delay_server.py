"""A fixed-answer HTTP server whose every answer leaves exactly ``--latency`` ms after its request arrived.

``python -m bench.delay_server --port P --latency MS``. The latency-bound scenario needs a server
that adds the latency it is given and as little else as it can: the simulator (a full aiohttp
application checking a digest on every request) adds its own handling to every round trip. This one
is a bare asyncio protocol: each complete request is counted and its answer, the canned "Query a record" body, is
written by a timer set for arrival + latency. No authentication.

``GET /__stats`` returns ``{"per_second": {epoch second: requests}}`` like the simulator's, and
``POST /__stats/reset`` clears it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from collections import Counter

from bench.servers import CANNED_ANSWER

_BODY = json.dumps(CANNED_ANSWER).encode()
_ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(_BODY)) + _BODY


class _Counts:
    def __init__(self) -> None:
        self.per_second: Counter[int] = Counter()

    def answer(self) -> bytes:
        body = json.dumps({"per_second": {str(s): n for s, n in sorted(self.per_second.items())}}).encode()
        return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


class _Connection(asyncio.Protocol):
    def __init__(self, latency: float, counts: _Counts) -> None:
        self._latency, self._counts = latency, counts
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
            length = next((int(line.split(":", 1)[1]) for line in head[1:]
                           if line.lower().startswith("content-length:")), 0)
            if len(self._buffer) < end + 4 + length:
                return  # the body is still on its way
            del self._buffer[:end + 4 + length]
            self._answer(head[0])

    def _answer(self, request_line: str) -> None:
        method, path = request_line.split(" ")[:2]
        if path.startswith("/__stats"):
            if method == "POST":
                self._counts.per_second.clear()
                self._write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            else:
                self._write(self._counts.answer())
            return
        self._counts.per_second[int(time.time())] += 1
        loop = asyncio.get_running_loop()
        loop.call_at(loop.time() + self._latency, self._write, _ANSWER)

    def _write(self, answer: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(answer)


async def serve(port: int, latency_ms: float) -> None:
    loop = asyncio.get_running_loop()
    counts = _Counts()
    server = await loop.create_server(lambda: _Connection(latency_ms / 1000, counts), "127.0.0.1", port)
    stopped = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    async with server:
        await stopped.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.delay_server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, required=True, metavar="MS")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.latency))


if __name__ == "__main__":
    main()
