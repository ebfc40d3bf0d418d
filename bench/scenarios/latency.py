"""Latency bound: with server latency L and concurrency C, throughput should reach min(rate, C / L)."""

from __future__ import annotations

import socket
import statistics
import time
from pathlib import Path

from bench.data import write_keys
from bench.figures import Figure, Scenario, Target, ratios, steady_seconds
from bench.plan import Plan
from bench.scenarios.common import measured, spec
from bench.servers import Server, delay_server

NAME = "latency"
TITLE = "Latency bound: throughput vs min(rate, concurrency / latency), fixed-latency server"
NEEDS_NGINX = False
KINDS = ("reconciler", "aiohttp")  # the bare loop shows what the server and loopback allow at this latency


def run(plan: Plan, workdir: Path) -> Scenario:
    concurrency = plan.latency_concurrency
    bounds = {latency: concurrency / (latency / 1000) for latency in plan.latencies_ms}  # rate is inf
    counts = {latency: int(bound * plan.latency_seconds) for latency, bound in bounds.items()}
    figures: list[Figure] = []
    for latency, bound in bounds.items():
        keys = write_keys(workdir / f"keys-{latency:g}.parquet", counts[latency])
        achieved: dict[str, list[float]] = {kind: [] for kind in KINDS}
        round_trips: list[float] = []
        with delay_server(latency) as server:
            floor = _one_at_a_time_ms(server)
            for repetition in range(plan.repetitions):
                for kind in KINDS:
                    server.reset_stats()
                    result = measured(spec(kind, server, keys, workdir / f"{kind}-{latency:g}-{repetition}",
                                           concurrency=concurrency, rate="inf"))
                    achieved[kind].append(statistics.fmean(steady_seconds(server.stats()["per_second"])))
                    round_trips += [result["round_trip_ms"]] if "round_trip_ms" in result else []
        mine, bare = achieved["reconciler"], achieved["aiohttp"]
        figures += [Figure(f"{latency:g} ms: reconciler throughput / bound {bound:g}/s", "x",
                           [value / bound for value in mine], Target(low=0.95)),
                    Figure(f"{latency:g} ms: bare aiohttp throughput / bound", "x",
                           [value / bound for value in bare]),
                    Figure(f"{latency:g} ms: throughput reconciler / bare aiohttp", "x", ratios(mine, bare)),
                    Figure(f"{latency:g} ms: reconciler throughput", "requests/s", mine),
                    Figure(f"{latency:g} ms: bare aiohttp throughput", "requests/s", bare),
                    Figure(f"{latency:g} ms: bare aiohttp median round trip", "ms", round_trips),
                    Figure(f"{latency:g} ms: raw socket round trip, one request at a time", "ms", [floor]),
                    Figure(f"{latency:g} ms: reconciler throughput / (concurrency / raw round trip)", "x",
                           [value / (concurrency / (floor / 1000)) for value in mine])]
    scenario = Scenario(NAME, TITLE, server.description.rsplit(",", 1)[0],
                        {"latencies_ms": list(plan.latencies_ms), "concurrency": concurrency, "rate": "inf",
                         "bound": "min(rate, concurrency / latency) = concurrency / latency",
                         "seconds_per_run": plan.latency_seconds, "repetitions": plan.repetitions,
                         "measured": "mean requests per whole second at the server, first and last dropped",
                         "baseline": "bare aiohttp loop, same concurrency"})
    scenario.figures = figures
    return scenario


def _one_at_a_time_ms(server: Server, requests: int = 50) -> float:
    """The median round trip of a blocking socket sending one request at a time: this machine's floor.

    On these virtual machines a process that sleeps through the latency takes about a millisecond to
    wake up when its answer comes, on top of the latency itself; no client can do better than this.
    A bare socket rather than ``http.client``, whose parsing would add its own fraction of a millisecond.
    """
    port = int(server.base_url.rsplit(":", 1)[1])
    request = b"POST /floor HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}"
    times: list[float] = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(requests):
            started = time.perf_counter()
            connection.sendall(request)
            _read_answer(connection)
            times.append(time.perf_counter() - started)
    server.reset_stats()
    return statistics.median(times) * 1000


def _read_answer(connection: socket.socket) -> None:
    """Read one HTTP answer with a Content-Length (as ``bench.delay_server`` sends) to its end."""
    answer = b""
    while (end := answer.find(b"\r\n\r\n")) < 0 or len(answer) < end + 4 + _content_length(answer[:end]):
        chunk = connection.recv(65536)
        if not chunk:
            raise RuntimeError("the fixed-latency server closed the connection mid-answer")
        answer += chunk


def _content_length(head: bytes) -> int:
    return next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:"))
