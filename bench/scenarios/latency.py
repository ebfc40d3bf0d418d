"""Latency bound: with server latency L and concurrency C, throughput should reach min(rate, C / L)."""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.data import write_keys, write_records
from bench.figures import Figure, Scenario, Target, ratios, steady_seconds
from bench.plan import Plan
from bench.scenarios.common import measured, spec
from bench.servers import simulator_server

NAME = "latency"
TITLE = "Latency bound: throughput vs min(rate, concurrency / latency), simulator"
NEEDS_NGINX = False
KINDS = ("reconciler", "aiohttp")  # the bare loop shows what the simulator itself allows at this latency


def run(plan: Plan, workdir: Path) -> Scenario:
    concurrency = plan.latency_concurrency
    bounds = {latency: concurrency / (latency / 1000) for latency in plan.latencies_ms}  # rate is inf
    counts = {latency: int(bound * plan.latency_seconds) for latency, bound in bounds.items()}
    records = write_records(workdir / "records.csv", max(counts.values()))
    figures: list[Figure] = []
    for latency, bound in bounds.items():
        keys = write_keys(workdir / f"keys-{latency:g}.parquet", counts[latency])
        achieved: dict[str, list[float]] = {kind: [] for kind in KINDS}
        round_trips: list[float] = []
        with simulator_server(records, latency_ms=latency) as server:
            for repetition in range(plan.repetitions):
                for kind in KINDS:
                    server.reset_stats()
                    result = measured(spec(kind, server, keys, workdir / f"{kind}-{latency:g}-{repetition}",
                                           concurrency=concurrency, rate="inf", auth=True))
                    achieved[kind].append(statistics.fmean(steady_seconds(server.stats()["per_second"])))
                    round_trips += [result["round_trip_ms"]] if "round_trip_ms" in result else []
        mine, bare = achieved["reconciler"], achieved["aiohttp"]
        figures += [Figure(f"{latency:g} ms: reconciler throughput / bound {bound:g}/s", "x",
                           [value / bound for value in mine], Target(low=0.95)),
                    Figure(f"{latency:g} ms: bare aiohttp+digest throughput / bound", "x",
                           [value / bound for value in bare]),
                    Figure(f"{latency:g} ms: throughput reconciler / bare aiohttp+digest", "x", ratios(mine, bare)),
                    Figure(f"{latency:g} ms: reconciler throughput", "requests/s", mine),
                    Figure(f"{latency:g} ms: bare aiohttp+digest throughput", "requests/s", bare),
                    Figure(f"{latency:g} ms: bare aiohttp+digest median round trip", "ms", round_trips)]
    scenario = Scenario(NAME, TITLE, "reconciler simulator (own process), digest auth",
                        {"latencies_ms": list(plan.latencies_ms), "concurrency": concurrency, "rate": "inf",
                         "bound": "min(rate, concurrency / latency) = concurrency / latency",
                         "seconds_per_run": plan.latency_seconds, "repetitions": plan.repetitions,
                         "measured": "mean requests per whole second at the server, first and last dropped",
                         "baseline": "bare aiohttp loop with aiohttp's DigestAuthMiddleware, same concurrency"})
    scenario.figures = figures
    return scenario
