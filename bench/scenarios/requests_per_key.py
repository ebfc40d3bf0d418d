"""Requests per record: server-side requests per distinct key, with digest auth and duplicated input rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.data import write_keys, write_records
from bench.figures import Figure, Scenario, Target
from bench.plan import Plan
from bench.scenarios.common import measured, spec
from bench.servers import simulator_server

NAME = "per-key"
TITLE = "Requests per record: digest auth, duplicated keys (simulator counters)"
NEEDS_NGINX = False
CONCURRENCY = 8


def run(plan: Plan, workdir: Path) -> Scenario:
    records = write_records(workdir / "records.csv", plan.duplicate_distinct)
    keys = write_keys(workdir / "keys.parquet", plan.duplicate_rows, plan.duplicate_distinct)
    counters: list[dict[str, Any]] = []
    with simulator_server(records) as server:
        for repetition in range(plan.repetitions):
            server.reset_stats()
            result = measured(spec("reconciler", server, keys, workdir / f"run-{repetition}",
                                   concurrency=CONCURRENCY, rate="inf", auth=True))
            stats = server.stats()
            counters.append({"rows": result["records"], "client_requests_sent": result["requests_sent"],
                             **{name: stats[name] for name in ("requests_total", "by_endpoint", "by_status",
                                                               "digest_challenges", "distinct_keys_queried",
                                                               "max_requests_per_key")}})
    distinct = plan.duplicate_distinct
    scenario = Scenario(NAME, TITLE, server.description,
                        {"input_rows": plan.duplicate_rows, "distinct_keys": distinct,
                         "duplicates": f"every key on {plan.duplicate_rows / distinct:g} rows, spread over the file",
                         "concurrency": CONCURRENCY, "rate": "inf", "auth": "digest (preemptive after 1st challenge)",
                         "strategy": "query", "repetitions": plan.repetitions})
    scenario.figures = [
        Figure("server requests per distinct key", "requests",
               [c["requests_total"] / distinct for c in counters], Target(high=1.001, on="max")),
        Figure("server requests per input row", "requests", [c["requests_total"] / c["rows"] for c in counters]),
        Figure("requests beyond one per distinct key", "requests",
               [float(c["requests_total"] - distinct) for c in counters]),
        Figure("digest challenges per run", "401s", [float(c["digest_challenges"]) for c in counters],
               Target(high=1, on="max")),
        Figure("most requests for one key (duplicates cost nothing)", "requests",
               [float(c["max_requests_per_key"]) for c in counters], Target(high=1, on="max")),
    ]
    scenario.details = {"counters": counters}
    return scenario
