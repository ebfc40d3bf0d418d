"""Rate exactness: ``--rate R`` against the simulator with latency, counted by the server, second by second."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench.data import write_keys, write_records
from bench.figures import Figure, Scenario, Target, steady_seconds
from bench.plan import Plan
from bench.scenarios.common import measured, spec
from bench.servers import Server, simulator_server

NAME = "rate"
TITLE = "Rate exactness: --rate R against the simulator (server-side per-second counts)"
NEEDS_NGINX = False
CONCURRENCY = 8


def run(plan: Plan, workdir: Path) -> Scenario:
    counts = {rate: int(rate * plan.rate_seconds) for rate in plan.rates}
    records = write_records(workdir / "records.csv", max(counts.values()))
    figures: list[Figure] = []
    seconds: dict[str, list[list[int]]] = {}
    with simulator_server(records, latency_ms=plan.rate_latency_ms) as server:
        for rate, count in counts.items():
            keys = write_keys(workdir / f"keys-{rate:g}.parquet", count)
            windows = [_paced_run(server, keys, workdir / f"run-{rate:g}-{i}", rate) for i in range(plan.repetitions)]
            seconds[f"{rate:g}"] = windows
            figures += [
                Figure(f"achieved / --rate {rate:g}", "x", [statistics.fmean(w) / rate for w in windows],
                       Target(low=0.98, high=1.02)),
                Figure(f"worst 1-s window / --rate {rate:g}", "x", [max(w) / rate for w in windows],
                       Target(high=1.1, on="max")),
            ]
    scenario = Scenario(NAME, TITLE, server.description,
                        {"rates": list(plan.rates), "seconds_per_run": plan.rate_seconds,
                         "latency_ms": plan.rate_latency_ms, "concurrency": CONCURRENCY, "auth": "digest",
                         "repetitions": plan.repetitions,
                         "windows": "whole calendar seconds of the server's clock; first and last dropped"})
    scenario.figures = figures
    scenario.details = {"requests_per_whole_second": seconds}
    return scenario


def _paced_run(server: Server, keys: Path, workdir: Path, rate: float) -> list[int]:
    server.reset_stats()
    measured(spec("reconciler", server, keys, workdir, concurrency=CONCURRENCY, rate=rate, auth=True))
    stats: dict[str, Any] = server.stats()
    windows = steady_seconds(stats["per_second"])
    if len(windows) < 3:
        raise RuntimeError(f"--rate {rate:g}: only {len(windows)} whole seconds to measure; run longer")
    return windows
