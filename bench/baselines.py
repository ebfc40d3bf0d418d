"""What reconciler is measured against: the least a client could do, and what a user would write instead.

Each function asks ``url`` about every key (``{"account_id": key}`` as a JSON POST), reads and
decodes each JSON answer, and returns how many answers came back with status 200. Nothing is
journalled, retried, paced or written: these are floors and folk alternatives, not products.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from collections.abc import Sequence

import aiohttp

from bench.servers import KEY_COLUMN


async def bare_aiohttp(url: str, keys: Sequence[str], concurrency: int, auth: tuple[str, str] | None = None,
                       round_trips: list[float] | None = None) -> int:
    """One session, ``concurrency`` workers pulling keys from a queue: POST, read, decode JSON.

    With ``auth``, aiohttp's own digest middleware signs the requests (preemptively, as reconciler's does).
    ``round_trips`` receives each request's seconds from POST to decoded answer.
    """
    pending: asyncio.Queue[str] = asyncio.Queue()
    for key in keys:
        pending.put_nowait(key)
    answered = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal answered
        while not pending.empty():
            key = pending.get_nowait()
            started = time.perf_counter()
            async with session.post(url, json={KEY_COLUMN: key}) as response:
                json.loads(await response.read())
                answered += response.status == 200
            if round_trips is not None:
                round_trips.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=concurrency)
    middlewares = (aiohttp.DigestAuthMiddleware(*auth, preemptive=True),) if auth else ()
    async with aiohttp.ClientSession(connector=connector, middlewares=middlewares) as session, \
            asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker(session))
    return answered


def requests_sequential(url: str, keys: Sequence[str], auth: tuple[str, str] | None) -> int:
    """The loop most people write first: one ``requests.Session``, one key after another."""
    import requests
    from requests.auth import HTTPDigestAuth

    with requests.Session() as session:
        session.auth = HTTPDigestAuth(*auth) if auth else None
        return sum(_ask(session, url, key) for key in keys)


def requests_threads(url: str, keys: Sequence[str], auth: tuple[str, str] | None, threads: int) -> int:
    """A pool of ``threads`` threads, each with its own ``requests.Session``, pulling keys from a queue."""
    pending: queue.SimpleQueue[str] = queue.SimpleQueue()
    for key in keys:
        pending.put(key)
    counts = [0] * threads

    def work(slot: int) -> None:
        import requests
        from requests.auth import HTTPDigestAuth

        with requests.Session() as session:
            session.auth = HTTPDigestAuth(*auth) if auth else None
            while True:
                try:
                    key = pending.get_nowait()
                except queue.Empty:
                    return
                counts[slot] += _ask(session, url, key)

    pool = [threading.Thread(target=work, args=(slot,)) for slot in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(counts)


def _ask(session: object, url: str, key: str) -> int:
    response = session.post(url, json={KEY_COLUMN: key}, timeout=30)  # type: ignore[attr-defined]
    response.json()
    return int(response.status_code == 200)
