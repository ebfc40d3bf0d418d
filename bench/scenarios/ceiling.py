"""Client ceiling: reconciler at an unlimited rate against a bare aiohttp loop, on nginx, alternating runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.data import write_keys
from bench.figures import Figure, Scenario, Target, ratios
from bench.plan import Plan
from bench.scenarios.common import cpu_per_10k, measured, spec, throughput
from bench.servers import nginx_server

NAME = "ceiling"
TITLE = "Client ceiling: reconciler (rate inf) vs a bare aiohttp loop"
NEEDS_NGINX = True
KINDS = ("reconciler", "aiohttp", "reconciler-uvloop")  # the last: the stretch, measured, not adopted


def run(plan: Plan, workdir: Path) -> Scenario:
    keys = write_keys(workdir / "keys.parquet", plan.ceiling_keys)
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    with nginx_server() as server:
        for repetition in range(plan.ceiling_repetitions):
            for kind in KINDS[repetition % 3:] + KINDS[:repetition % 3]:
                job = spec(kind.removesuffix("-uvloop"), server, keys, workdir / f"{kind}-{repetition}",
                           concurrency=plan.concurrency)
                job["loop"] = "uvloop" if kind.endswith("-uvloop") else "asyncio"
                before = server.cpu_seconds()
                runs[kind].append(measured(job))
                runs[kind][-1]["server_cpu_seconds"] = server.cpu_seconds() - before
    mine, bare, stretch = runs["reconciler"], runs["aiohttp"], runs["reconciler-uvloop"]
    scenario = Scenario(NAME, TITLE, server.description,
                        {"keys": plan.ceiling_keys, "concurrency": plan.concurrency, "rate": "inf",
                         "dialect": "classic, never challenged", "repetitions": plan.ceiling_repetitions,
                         "order": "rotating (reconciler, aiohttp, reconciler on uvloop), a fresh process per run"})
    scenario.figures = [
        Figure("throughput ratio reconciler/aiohttp", "x", ratios([throughput(r) for r in mine],
               [throughput(r) for r in bare]), Target(low=0.9)),
        Figure("CPU per record ratio reconciler/aiohttp", "x", ratios([cpu_per_10k(r) for r in mine],
               [cpu_per_10k(r) for r in bare]), Target(high=1.2)),
        Figure("reconciler throughput", "records/s", [throughput(r) for r in mine]),
        Figure("bare aiohttp throughput", "records/s", [throughput(r) for r in bare]),
        Figure("reconciler CPU per 10,000 records", "CPU s", [cpu_per_10k(r) for r in mine]),
        Figure("bare aiohttp CPU per 10,000 records", "CPU s", [cpu_per_10k(r) for r in bare]),
        Figure("nginx CPU per 10,000 requests (bare aiohttp runs)", "CPU s",
               [r["server_cpu_seconds"] / r["records"] * 10_000 for r in bare]),
        Figure("stretch: throughput ratio reconciler on uvloop/reconciler", "x",
               ratios([throughput(r) for r in stretch], [throughput(r) for r in mine])),
        Figure("stretch: CPU per record ratio reconciler on uvloop/reconciler", "x",
               ratios([cpu_per_10k(r) for r in stretch], [cpu_per_10k(r) for r in mine])),
        Figure("stretch: CPU per record ratio reconciler on uvloop/aiohttp", "x",
               ratios([cpu_per_10k(r) for r in stretch], [cpu_per_10k(r) for r in bare])),
    ]
    scenario.details = {"runs": runs}
    return scenario
