"""Run a fleet's targets in one process: one rate budget per tenant, one journal per target.

Each tenant gets one ``Throttle`` at its ``rate``; every request of its targets (and of its
discovery) takes a start slot from it, so that however many of its targets run at once, the tenant
sees at most its rate, and an overloaded server slows all of them. The budget is this process's: no
rate is shared across processes or machines, which is why a shard owns whole tenants. At most
``parallel`` targets run at once, over all tenants. A target's failure (a bad input, a refusal, a
crash) is its own: the others go on. A stop request (SIGINT/SIGTERM) stops every target at its next
safe point, journals kept, and starts no new one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio

from reconciler.client import open_record_source
from reconciler.client.pacing import Throttle
from reconciler.config import Credentials, ReconcileConfig
from reconciler.errors import ReconcilerError
from reconciler.fleet.configs import make_target_folders, remove_empty_folders, target_config
from reconciler.fleet.discover import discover
from reconciler.fleet.file import Fleet, FleetFileError, TargetSpec, TenantSpec, target_files
from reconciler.fleet.ledger import Ledger, input_identity
from reconciler.lookup import RecordSource
from reconciler.reporting.logs import RUN_NAME
from reconciler.reporting.progress import Progress
from reconciler.reporting.run_report import build_report
from reconciler.reporting.stats import RunStats
from reconciler.wiring.pipeline import reconcile
from reconciler.wiring.stop import StopRequest

logger = logging.getLogger("reconciler.fleet")
INTERRUPTED = (130, 143)
Say = Callable[[str, Mapping[str, object]], None]


def outcome_of(exit_code: int, finished: bool) -> str:
    """A target's outcome, by its exit code (see the README's fleet section)."""
    if exit_code == 0:
        return "complete"
    if exit_code == 1:
        return "complete_with_errors" if finished else "failed"
    if exit_code == 2:
        return "invalid"
    if exit_code == 3:
        return "refused"
    return "interrupted" if exit_code in INTERRUPTED else "failed"


def fleet_exit_code(codes: list[int], stopped: int | None) -> int:
    """0 all complete (or nothing to do); 3 every target refused; 130/143 stopped; 1 anything else."""
    if stopped is not None:
        return stopped
    if all(code == 0 for code in codes):
        return 0
    return 3 if all(code == 3 for code in codes) else 1


@dataclass
class FleetState:
    """What the fleet has done so far: read by the progress lines, written into the report."""

    records: list[dict[str, Any]] = field(default_factory=list)
    tenants: dict[str, dict[str, Any]] = field(default_factory=dict)
    running: dict[str, Progress] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # a path any target writes -> that target

    def codes(self) -> list[int]:
        tenant_failures = [int(t["discovery"]["exit_code"]) for t in self.tenants.values()
                           if t.get("discovery") and t["discovery"].get("exit_code")]
        return [int(record["exit_code"]) for record in self.records] + tenant_failures


@dataclass
class FleetRun:
    """One fleet run over ``tenants`` (a shard's, or all)."""

    fleet: Fleet
    tenants: tuple[TenantSpec, ...]
    credentials: Mapping[str, Credentials]
    ledger: Ledger
    stop: StopRequest
    say: Say
    mask: Callable[[str], str] = lambda text: text
    state: FleetState = field(default_factory=FleetState)

    async def run(self) -> FleetState:
        limiter = anyio.CapacityLimiter(self.fleet.parallel)
        async with anyio.create_task_group() as group:
            for tenant in self.tenants:
                group.start_soon(self._tenant, tenant, limiter)
        return self.state

    async def _tenant(self, tenant: TenantSpec, limiter: anyio.CapacityLimiter) -> None:
        throttle = Throttle(tenant.rate)
        summary: dict[str, Any] = {"tenant": tenant.tenant, "base_url": tenant.base_url, "dialect": tenant.dialect,
                                   "rate": tenant.rate, "discover": tenant.discovery is not None, "discovery": None,
                                   "targets": len(tenant.targets), "throttle": throttle.stats}
        self.state.tenants[tenant.tenant] = summary
        targets = list(tenant.targets)
        if tenant.discovery is not None:
            try:
                targets = await discover(tenant, self.credentials[tenant.tenant], throttle)
            except ReconcilerError as exc:
                summary["discovery"] = {"exit_code": exc.exit_code, "error": self.mask(str(exc))}
                self.say(f"{tenant.tenant}: discovery failed: {exc}", {"tenant": tenant.tenant, "event": "discovery"})
                return
            found = sum(target.discovered for target in targets)
            summary.update(targets=len(targets), discovery={"exit_code": 0, "error": None, "discovered": found})
            self.say(f"{tenant.tenant}: discovered {found} list(s) in Get Campaigns; {len(targets)} target(s)",
                     {"tenant": tenant.tenant, "event": "discovery", "discovered": found})
        async with anyio.create_task_group() as group:
            for target in targets:
                group.start_soon(self._target, tenant, target, throttle, limiter)

    async def _target(self, tenant: TenantSpec, target: TargetSpec, throttle: Throttle,
                      limiter: anyio.CapacityLimiter) -> None:
        RUN_NAME.set(target.name)  # this task's own context: the run's warnings name their target
        started = datetime.now(UTC)
        try:
            config = target_config(self.fleet, tenant, target, self.credentials[tenant.tenant])
            self._claim_paths(target)
        except ReconcilerError as exc:
            self._ended(target, None, started, None, exc.exit_code, str(exc))
            return
        identity = input_identity(config.input_path)
        earlier = self.ledger.finished(target.name, identity)
        if earlier is not None:
            self._skipped(target, earlier, identity)
            return
        async with limiter:
            if self.stop.received is not None:
                self._ended(target, config, started, None, self.stop.received[1], "not started: the fleet was stopped")
                return
            await self._reconcile(target, config, throttle, identity)

    async def _reconcile(self, target: TargetSpec, config: ReconcileConfig, throttle: Throttle,
                         identity: Mapping[str, Any] | None) -> None:
        started, progress = datetime.now(UTC), Progress()
        self.state.running[target.name] = progress
        self.say(f"{target.name}: started", {"target": target.name, "event": "started"})
        made = make_target_folders(target, config)
        stats: RunStats | None = None

        def source(config: ReconcileConfig) -> AbstractAsyncContextManager[RecordSource]:
            return open_record_source(config.target, config.credentials, config.policy, throttle=throttle)

        try:
            stats = await reconcile(config, source_factory=source, progress=progress, stop=self.stop)
            code, error = stats.exit_code, None
        except ReconcilerError as exc:
            code, error = exc.exit_code, str(exc)
        except Exception as exc:  # a bug in one target must not end the others; its record says so
            logger.exception("%s: unexpected failure", target.name)
            code, error = 1, f"unexpected {type(exc).__name__}: {exc}"
        finally:
            del self.state.running[target.name]
        if stats is None:
            remove_empty_folders(made)
        record = self._ended(target, config, started, stats, code, error)
        if code not in INTERRUPTED:
            self.ledger.record(target.name, identity, record)

    def _claim_paths(self, target: TargetSpec) -> None:
        """Refuse a target whose files another target of this run writes (discovered names can meet)."""
        files = target_files(target)
        for key, path in files.items():
            other = self.state.owners.get(path)
            if other is not None and other != target.name:
                raise FleetFileError(f"{self.fleet.path}: tenant {target.tenant!r}, target {target.campaign!r} / "
                                     f"{target.list_name!r}: key {key!r}: names {path}, as target {other!r} does; "
                                     "give each target files of its own (use {tenant}, {campaign} and {list})")
        for path in files.values():
            self.state.owners[path] = target.name

    def _skipped(self, target: TargetSpec, earlier: dict[str, Any], identity: Mapping[str, Any] | None) -> None:
        record = {**earlier, "skipped": True}
        self.state.records.append(record)
        self.ledger.record(target.name, identity, earlier)
        self.say(f"{target.name}: complete in an earlier attempt of this fleet run; not run again",
                 {"target": target.name, "event": "skipped", "outcome": "complete"})

    def _ended(self, target: TargetSpec, config: ReconcileConfig | None, started: datetime, stats: RunStats | None,
               code: int, error: str | None) -> dict[str, Any]:
        ended = datetime.now(UTC)
        error = self.mask(error) if error is not None else None
        report = build_report(config=config, stats=stats, exit_code=code, error=error, started_at=started,
                              ended_at=ended)
        del report["versions"]  # the fleet report says them once
        record = {"target": target.name, "tenant": target.tenant, "campaign": target.campaign,
                  "list": target.list_name, "discovered": target.discovered,
                  "outcome": outcome_of(code, stats is not None),
                  "exit_code": code, "error": error, "skipped": False, "started_at": started.isoformat(),
                  "ended_at": ended.isoformat(), "duration_seconds": report["duration_seconds"],
                  "output": str(stats.output_path) if stats is not None else None,
                  "rows": stats.rows if stats is not None else None,
                  "by_status": dict(stats.by_status) if stats is not None else None,
                  "requests_sent": stats.requests_sent if stats is not None else None, "report": report}
        self.state.records.append(record)
        self.say(_ended_line(record), {"target": target.name, "event": "ended", "outcome": record["outcome"],
                                       "exit_code": code})
        return record


def _ended_line(record: Mapping[str, Any]) -> str:
    line = f"{record['target']}: {record['outcome']} in {record['duration_seconds']:.1f} s"
    if record["rows"] is not None:
        counts = ", ".join(f"{status} {count:,}" for status, count in record["by_status"].items() if count)
        line += f" ({record['rows']:,} rows: {counts or 'none'}; {record['requests_sent']:,} requests)"
    return line + (f": {record['error']}" if record["error"] else "")
