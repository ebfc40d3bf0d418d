"""One module per scenario; each has ``NAME``, ``TITLE``, ``NEEDS_NGINX`` and ``run(plan, workdir) -> Scenario``."""

from __future__ import annotations

from bench.scenarios import (
    alternatives,
    ceiling,
    latency,
    memory,
    night_floor,
    nightly,
    orjson_cost,
    profile,
    rate,
    requests_per_key,
)

SCENARIOS = {module.NAME: module for module in (ceiling, profile, orjson_cost, rate, latency, requests_per_key,
                                                  memory, alternatives, nightly, night_floor)}
