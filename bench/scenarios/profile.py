"""Where reconciler's CPU goes in the client-ceiling run, beside the bare aiohttp loop's, sampled by py-spy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.data import write_keys
from bench.figures import Figure, Scenario
from bench.plan import Plan
from bench.profile import WAITING, profile_job
from bench.scenarios.common import spec
from bench.servers import nginx_server

NAME = "profile"
TITLE = "Profile of the client-ceiling run (py-spy, CPU samples)"
NEEDS_NGINX = True
# Frames of reconciler's request path whose inclusive cost the report quotes (absent ones read 0).
HOT_SPOTS = (
    "reconciler/stages/query.py:KeyQuerier._work",
    "reconciler/client/client.py:BrightPatternClient.query",
    "tenacity/asyncio/__init__.py:AsyncRetrying.__call__",
    "reconciler/client/retry.py:Retrier.run.<locals>.counted",
    "reconciler/client/client.py:ClientCore._send",
    "reconciler/client/pacing.py:ConnectionSlots.__aenter__",
    "reconciler/client/transport.py:post",
    "aiohttp/client.py:ClientSession._request",
    "aiohttp/client_middleware_digest_auth.py:DigestAuthMiddleware.__call__",
    "reconciler/client/transport.py:_reply",
    "reconciler/client/classify.py:record_result",
    "reconciler/client/classify.py:raise_if_fatal",
    "reconciler/client/reply.py:Reply.text",
    "reconciler/client/answer.py:read_record",
    "reconciler/stages/query.py:KeyQuerier._next_key",
    "reconciler/stages/query.py:KeyQuerier._admit",
    "reconciler/stages/query.py:KeyQuerier._commit",
    "reconciler/journal/store.py:Journal.record",
    "reconciler/journal/store.py:_Transaction.__exit__",
    "reconciler/journal/store.py:_result_row",
    "reconciler/output/write.py:write_output",
    "reconciler/stages/load_keys.py:load_keys",
    "stdlib/asyncio/selector_events.py:_SelectorSocketTransport.write",
    "bench/baselines.py:bare_aiohttp.<locals>.worker",
    "aiohttp/client_reqrep.py:ClientResponse.read",
)


def run(plan: Plan, workdir: Path) -> Scenario:
    keys = write_keys(workdir / "keys.parquet", plan.profile_keys)
    with nginx_server() as server:
        profiles = {kind: profile_job(spec(kind, server, keys, workdir / kind, concurrency=plan.concurrency),
                                      watch=HOT_SPOTS)
                    for kind in ("reconciler", "aiohttp")}
    scenario = Scenario(NAME, TITLE, server.description,
                        {"keys": plan.profile_keys, "concurrency": plan.concurrency, "rate": "inf",
                         "profiler": "py-spy record --nolineno (own and inclusive shares of CPU samples)"})
    us = {kind: _us_per_record(profile, plan.profile_keys) for kind, profile in profiles.items()}
    scenario.figures = [Figure(f"{kind} sampled CPU per record (not waiting)", "us",
                               [sum(v for name, v in us[kind]["components"].items() if name != WAITING)])
                        for kind in profiles]
    scenario.figures += [Figure(f"reconciler: {name}", "us/record", [value])
                         for name, value in us["reconciler"]["components"].items()]
    scenario.details = {**profiles, "us_per_record": us}
    return scenario


def _us_per_record(profile: dict[str, Any], records: int) -> dict[str, dict[str, float]]:
    """Sampled CPU microseconds per record, by component and by package."""
    total = profile["samples"] / profile["sample_rate"] / records * 1e6
    tables = {table: {row["frame"]: round(row["share"] * total, 1) for row in profile[table]}
              for table in ("components", "packages")}
    tables["watched"] = {frame: round(share * total, 1) for frame, share in profile["watched"].items()}
    return tables
