"""Memory: peak RSS of ``python -m reconciler run`` as the input grows from 100 thousand to 10 million rows.

The targets are on the kernel's peak RSS; the anonymous part (``bench.measure.CliRun``) is shown
beside it, because the shared libraries' share of RSS moves with the page cache, not with the input.

Every input holds the same distinct keys (``plan.memory_distinct``) repeated over its rows, so that
the query phase takes the same time at every size and only the row count changes: reading, key
loading, joining and writing all stream over the rows. nginx answers, so every key is found.
"""

from __future__ import annotations

from pathlib import Path

from bench.data import write_keys
from bench.figures import Figure, Scenario, Target
from bench.measure import CliRun, run_cli
from bench.plan import Plan
from bench.servers import CAMPAIGN, KEY_COLUMN, LIST_NAME, LOGIN, PASSWORD, TENANT, Server, nginx_server

NAME = "memory"
TITLE = "Memory: peak RSS of the reconciler process by input rows (nginx)"
NEEDS_NGINX = True
FLOOR_ROWS = 1_000
RSS_CEILING_MB = 250.0
RSS_GROWTH_MB = 50.0
# A diagnostic run: pyarrow's default pool (mimalloc) keeps freed memory for reuse; the system allocator
# returns more of it, which shows how much of the peak is the allocator's retention rather than data.
SYSTEM_POOL = {"ARROW_DEFAULT_MEMORY_POOL": "system"}
DIAGNOSTIC = "pyarrow system allocator (diagnostic)"


def run(plan: Plan, workdir: Path) -> Scenario:
    sizes = [(FLOOR_ROWS, "parquet"), *((rows, "parquet") for rows in plan.memory_rows)]
    if plan.memory_csv_rows:
        sizes.append((plan.memory_csv_rows, "csv"))
    runs: dict[str, list[CliRun]] = {}
    with nginx_server() as server:
        for rows, fmt in sizes:
            keys = write_keys(workdir / f"keys-{rows}.{fmt}", rows, min(rows, plan.memory_distinct))
            repetitions = 1 if rows == FLOOR_ROWS else plan.memory_repetitions
            runs[_label(rows, fmt)] = [_reconcile(server, keys, workdir, i) for i in range(repetitions)]
            if rows == plan.memory_rows[-1] and fmt == "parquet":
                runs[_label(rows, fmt) + ", " + DIAGNOSTIC] = [_reconcile(server, keys, workdir, 0, SYSTEM_POOL)]
            keys.unlink()
    scenario = Scenario(NAME, TITLE, server.description,
                        {"distinct_keys": plan.memory_distinct, "concurrency": 16, "rate": "inf",
                         "measured": "ru_maxrss of the reconciler process (os.wait4); anonymous: peak RssAnon "
                                     "from /proc/PID/status, sampled every 20 ms", "output": "Parquet",
                         "diagnostic": "the largest size once more with ARROW_DEFAULT_MEMORY_POOL=system",
                         "repetitions": plan.memory_repetitions})
    scenario.figures = _figures(runs, plan)
    scenario.details = {"runs": {label: [{"seconds": r.seconds, "cpu_seconds": r.cpu_seconds,
                                          "peak_rss_mb": r.peak_rss_mb, "peak_anon_mb": r.peak_anon_mb}
                                         for r in done]
                                 for label, done in runs.items()}}
    return scenario


def _label(rows: int, fmt: str) -> str:
    return f"{rows:,} rows {fmt}"


def _figures(runs: dict[str, list[CliRun]], plan: Plan) -> list[Figure]:
    base, largest = _label(plan.memory_rows[0], "parquet"), _label(plan.memory_rows[-1], "parquet")
    figures = []
    for label, done in runs.items():
        target = Target(high=RSS_CEILING_MB, on="max") if label == largest else None
        figures.append(Figure(f"peak RSS, {label}", "MB", [r.peak_rss_mb for r in done], target))
    growth = [r.peak_rss_mb - min(b.peak_rss_mb for b in runs[base]) for r in runs[largest]]
    figures.append(Figure(f"peak RSS growth {largest.split(' rows')[0]} vs {base.split(' rows')[0]} rows", "MB",
                          growth, Target(high=RSS_GROWTH_MB, on="max")))
    figures += [Figure(f"peak anonymous RSS, {label}", "MB", [r.peak_anon_mb for r in done])
                for label, done in runs.items()]
    anon_growth = [r.peak_anon_mb - min(b.peak_anon_mb for b in runs[base]) for r in runs[largest]]
    figures.append(Figure(f"peak anonymous RSS growth {largest.split(' rows')[0]} vs {base.split(' rows')[0]} rows",
                          "MB", anon_growth))
    figures += [Figure(f"wall time, {label}", "s", [r.seconds for r in done]) for label, done in runs.items()]
    return figures


def _reconcile(server: Server, keys: Path, workdir: Path, repetition: int,
               environment: dict[str, str] | None = None) -> CliRun:
    output = workdir / f"out-{keys.stem}-{repetition}.parquet"
    args = ["run", str(keys), "--output", str(output), "--base-url", server.base_url, "--tenant", TENANT,
            "--list", LIST_NAME, "--campaign", CAMPAIGN, "--key", KEY_COLUMN, "--rate", "inf",
            "--concurrency", "16", "--strategy", "query", "--fresh", "--quiet"]
    done = run_cli(args, {"BP_USERNAME": LOGIN, "BP_PASSWORD": PASSWORD, **(environment or {})},
                   workdir / "stderr.txt")
    if done.code != 0:
        raise RuntimeError(f"reconciler run {keys.name} exited {done.code}: {done.stderr}")
    output.unlink()
    return done
