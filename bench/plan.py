"""How much each scenario does, by mode: ``--quick`` (a smoke run), the default, and ``--full``.

The default is sized to finish within 15 minutes on a quiet 2-core machine, nginx install included.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Plan:
    mode: str
    repetitions: int  # of every scenario unless said otherwise
    concurrency: int = 16  # client ceiling and alternatives on nginx
    ceiling_keys: int
    ceiling_repetitions: int
    profile_keys: int
    rates: tuple[float, ...]  # requests per second, each held for rate_seconds
    rate_seconds: float
    rate_latency_ms: float = 20.0
    latencies_ms: tuple[float, ...] = (20.0, 100.0)
    latency_concurrency: int = 8
    latency_seconds: float
    duplicate_rows: int  # requests per key: input rows ...
    duplicate_distinct: int  # ... over this many distinct keys
    memory_rows: tuple[int, ...]  # Parquet inputs; the first is the baseline of the comparison
    memory_csv_rows: int | None
    memory_distinct: int  # distinct keys in every memory input (the query time does not grow with rows)
    memory_repetitions: int
    alternatives_keys: int  # on nginx
    alternatives_latency_keys: int  # on the simulator with latency
    alternatives_threads: int = 8
    nightly_records: int = 1_000_000  # the nightly scenario's list; its input asks for a tenth
    night_floor_sizes: tuple[int, ...] = (1_000_000,)  # the night floor's lists (= its inputs), one run each


QUICK = Plan(mode="quick", repetitions=1, ceiling_keys=3_000, ceiling_repetitions=2, profile_keys=3_000,
             rates=(50.0,), rate_seconds=6, latency_seconds=4, duplicate_rows=3_000, duplicate_distinct=1_200,
             memory_rows=(100_000, 1_000_000), memory_csv_rows=None, memory_distinct=2_000,
             memory_repetitions=1, alternatives_keys=2_000, alternatives_latency_keys=100,
             nightly_records=20_000, night_floor_sizes=(20_000,))

DEFAULT = Plan(mode="default", repetitions=3, ceiling_keys=10_000, ceiling_repetitions=5, profile_keys=10_000,
               rates=(50.0, 200.0), rate_seconds=12, latency_seconds=6, duplicate_rows=6_000,
               duplicate_distinct=2_000, memory_rows=(100_000, 1_000_000, 10_000_000), memory_csv_rows=1_000_000,
               memory_distinct=10_000, memory_repetitions=1, alternatives_keys=5_000,
               alternatives_latency_keys=600)

FULL = Plan(mode="full", repetitions=5, ceiling_keys=20_000, ceiling_repetitions=7, profile_keys=20_000,
            rates=(50.0, 200.0), rate_seconds=30, latency_seconds=20, duplicate_rows=20_000,
            duplicate_distinct=5_000, memory_rows=(100_000, 1_000_000, 10_000_000), memory_csv_rows=10_000_000,
            memory_distinct=100_000, memory_repetitions=2, alternatives_keys=20_000,
            alternatives_latency_keys=1_000, night_floor_sizes=(1_000_000, 10_000_000))

PLANS = {plan.mode: plan for plan in (QUICK, DEFAULT, FULL)}
