"""The fleet report (``reconciler fleet --report PATH``): how each target ended, and how the whole run did.

``fleet_report_version`` 1. Each target's record holds its own run report (``report``, the schema
of ``docs/report-schema.json``) besides the few fields a scheduler looks at first. Secrets never
appear: the run reports redact them, and error texts are masked before they get here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from datetime import datetime
from typing import Any

from reconciler.fleet.run import FleetState
from reconciler.reporting.run_report import versions

FLEET_REPORT_VERSION = 1
OUTCOMES = ("complete", "complete_with_errors", "failed", "invalid", "refused", "interrupted")


def fleet_outcome(exit_code: int) -> str:
    return {0: "complete", 1: "partial", 2: "invalid_fleet_file", 3: "refused"}.get(exit_code, "interrupted")


def build_fleet_report(*, fleet: str, shard: str | None, state: FleetState | None, exit_code: int, error: str | None,
                       started_at: datetime, ended_at: datetime, resumed: bool) -> dict[str, Any]:
    """The report's content; ``state`` is None when the fleet stopped before any target ran."""
    records = sorted(state.records if state else [], key=lambda record: str(record["target"]))
    counts = Counter(str(record["outcome"]) for record in records)
    return {
        "fleet_report_version": FLEET_REPORT_VERSION,
        "fleet": fleet,
        "shard": shard,
        "outcome": fleet_outcome(exit_code),
        "exit_code": exit_code,
        "error": error,
        "started_at": started_at.isoformat(),
        "ended_at": ended_at.isoformat(),
        "duration_seconds": round((ended_at - started_at).total_seconds(), 3),
        "resumed": resumed,
        "versions": versions(),
        "counts": {"targets": len(records), **{outcome: counts.get(outcome, 0) for outcome in OUTCOMES},
                   "skipped": sum(1 for record in records if record.get("skipped"))},
        "tenants": [_tenant(summary) for _, summary in sorted((state.tenants if state else {}).items())],
        "targets": records,
    }


def _tenant(summary: dict[str, Any]) -> dict[str, Any]:
    throttle = summary.get("throttle")
    return {**summary, "throttle": asdict(throttle) if throttle is not None else None}
