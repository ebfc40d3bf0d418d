"""Against the alternatives a user would pick: a sequential ``requests`` loop and a pool of ``requests`` threads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.data import write_keys, write_records
from bench.figures import Figure, Scenario, ratios
from bench.plan import Plan
from bench.scenarios.common import cpu_per_10k, measured, spec, throughput
from bench.servers import Server, nginx_server, simulator_server

NAME = "alternatives"
TITLE = "Against requests: sequential loop and a thread pool, on nginx and on the simulator (20 ms, digest)"
NEEDS_NGINX = True
KINDS = ("reconciler", "requests-sequential", "requests-threads")
LATENCY_MS = 20.0


def run(plan: Plan, workdir: Path) -> Scenario:
    threads = plan.alternatives_threads
    fast_keys = write_keys(workdir / "keys-nginx.parquet", plan.alternatives_keys)
    slow_keys = write_keys(workdir / "keys-simulator.parquet", plan.alternatives_latency_keys)
    records = write_records(workdir / "records.csv", plan.alternatives_latency_keys)
    with nginx_server() as server:
        fast = _rounds(server, fast_keys, workdir / "nginx", plan, auth=False)
        fast_server = server.description
    with simulator_server(records, latency_ms=LATENCY_MS) as server:
        slow = _rounds(server, slow_keys, workdir / "simulator", plan, auth=True)
    scenario = Scenario(NAME, TITLE, f"{fast_server}; reconciler simulator, {LATENCY_MS:g} ms, digest auth",
                        {"keys_nginx": plan.alternatives_keys, "keys_simulator": plan.alternatives_latency_keys,
                         "concurrency": threads, "threads": threads, "rate": "inf",
                         "repetitions": plan.repetitions, "order": "rotating, a fresh process per run"})
    scenario.figures = [*_figures(fast, "nginx"), *_figures(slow, f"simulator {LATENCY_MS:g} ms")]
    scenario.details = {"nginx": fast, "simulator": slow}
    return scenario


def _rounds(server: Server, keys: Path, workdir: Path, plan: Plan, *, auth: bool) -> dict[str, list[Any]]:
    runs: dict[str, list[Any]] = {kind: [] for kind in KINDS}
    for repetition in range(plan.repetitions):
        order = KINDS[repetition % 3:] + KINDS[:repetition % 3]
        for kind in order:
            job = spec(kind, server, keys, workdir / f"{kind}-{repetition}", concurrency=plan.alternatives_threads,
                       auth=auth)
            runs[kind].append(measured(job))
    return runs


def _figures(runs: dict[str, list[Any]], where: str) -> list[Figure]:
    mine = runs["reconciler"]
    figures = []
    for kind in KINDS[1:]:
        figures.append(Figure(f"{where}: throughput reconciler/{kind}", "x",
                              ratios([throughput(r) for r in mine], [throughput(r) for r in runs[kind]])))
        figures.append(Figure(f"{where}: CPU per record reconciler/{kind}", "x",
                              ratios([cpu_per_10k(r) for r in mine], [cpu_per_10k(r) for r in runs[kind]])))
    figures += [Figure(f"{where}: {kind} throughput", "records/s", [throughput(r) for r in runs[kind]])
                for kind in KINDS]
    return figures
