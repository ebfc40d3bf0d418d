"""What the scenarios share: job specs for each client, and the checks every run must pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.measure import run_job
from bench.servers import Server


def spec(kind: str, server: Server, keys: Path, workdir: Path, *, concurrency: int, rate: float | str = "inf",
         auth: bool = False) -> dict[str, Any]:
    """A ``bench.job`` spec: ``kind`` asks ``server`` about every key in ``keys``."""
    workdir.mkdir(parents=True, exist_ok=True)
    return {"kind": kind, "base_url": server.base_url, "keys": str(keys), "workdir": str(workdir),
            "concurrency": concurrency, "rate": rate, "auth": auth}


def measured(job: dict[str, Any]) -> dict[str, Any]:
    """Run ``job``; refuse a run in which not every key was answered (its timing would mean nothing)."""
    result = run_job(job)
    if result["ok"] != result["records"]:
        raise RuntimeError(f"{job['kind']}: {result['ok']} of {result['records']} rows answered 200/found: {result}")
    return result


def throughput(result: dict[str, Any]) -> float:
    """Records per second of wall time (input rows, for reconciler)."""
    return float(result["records"] / result["seconds"])


def cpu_per_10k(result: dict[str, Any]) -> float:
    """CPU seconds (all threads) per 10,000 records."""
    return float(result["cpu_seconds"] / result["records"] * 10_000)
