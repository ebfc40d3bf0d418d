"""``reconciler fleet FILE``: the CLI adapter of a fleet run (flags, signals, progress lines, report, exit code).

Exit codes: 0 every target complete (or the shard has none); 1 some target ended otherwise
(rows in error, failed, invalid, refused while others were not, or a discovery failed); 2 the fleet
file or a flag is bad, or a tenant's credentials are missing: nothing was sent; 3 every target
(and discovery) was refused by the server; 130 / 143 stopped by SIGINT / SIGTERM (the ledger and
the journals kept: rerun the same command to resume).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from yarl import URL

from reconciler.config import Credentials
from reconciler.errors import ReconcilerError, root_cause
from reconciler.fleet.configs import tenant_credentials
from reconciler.fleet.file import Fleet, load_fleet
from reconciler.fleet.ledger import Ledger, ledger_path
from reconciler.fleet.report import build_fleet_report
from reconciler.fleet.run import FleetRun, FleetState, fleet_exit_code
from reconciler.fleet.shards import Shard, parse_shard, partition, shard_from_environment, tenants_of
from reconciler.reporting.logs import Console, Masker, configure
from reconciler.reporting.progress import render
from reconciler.reporting.run_report import check_report_location, write_report
from reconciler.wiring.stop import StopRequest, watch_signals


def run_fleet_command(args: argparse.Namespace) -> int:
    """Run the fleet the arguments name; the exit code."""
    command = _FleetCommand(args)
    try:
        return command.start()
    except ReconcilerError as exc:
        return command.failed(exc.exit_code, str(exc))
    except KeyboardInterrupt:
        return command.failed(130, "interrupted; rerun the same command to resume")
    finally:
        command.close()


class _FleetCommand:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.started = args, datetime.now(UTC)
        self.console = Console(args.log_format)
        self.shard: Shard | None = None
        self.state: FleetState | None = None
        self.exit_code, self.resumed = 0, False
        self.error: str | None = None
        self.report_path = Path(args.report) if args.report else None

    def start(self) -> int:
        args = self.args
        if not 0 < args.progress_interval <= 86400:
            raise ReconcilerError(f"--progress-interval: {args.progress_interval!r} is not valid; expected seconds "
                                  "above 0, at most 86400")
        fleet = load_fleet(Path(args.fleet_file))
        self.shard = self._shard(args)
        if args.plan:
            print(json.dumps(_plan(fleet, self.shard.count if self.shard else 1), indent=2, ensure_ascii=False))
            self.report_path = None
            return 0
        tenants = tenants_of(fleet, self.shard)
        credentials = {tenant.tenant: tenant_credentials(fleet, tenant, os.environ) for tenant in tenants}
        self.console = Console(args.log_format, _masker(credentials.values(), [t.base_url for t in tenants]))
        configure(args.verbose, args.log_format, self.console.mask)
        if self.report_path is not None:
            check_report_location(self.report_path)
        ledger = Ledger.open(ledger_path(fleet, self.shard, Path(args.ledger) if args.ledger else None), fleet,
                             self.shard, self.started.isoformat())
        self.resumed = ledger.resumed
        stop = StopRequest()
        run = FleetRun(fleet, tenants, credentials, ledger, stop, self._say, self.console.mask)
        self.state = run.state
        self._say(f"fleet {fleet.path}{f' shard {self.shard}' if self.shard else ''}: {len(tenants)} tenant(s), "
                  f"{sum(len(t.targets) for t in tenants)} named target(s), "
                  f"{sum(t.discovery is not None for t in tenants)} discovering"
                  f"{'; resuming an interrupted run: its complete targets are skipped' if ledger.resumed else ''}", {})
        try:
            anyio.run(self._main, run, stop)
        finally:
            ledger.close(ended=stop.received is None)
        self.exit_code = fleet_exit_code(self.state.codes(), stop.received[1] if stop.received else None)
        self._say(self._closing_line(), {"event": "finished", "exit_code": self.exit_code})
        return self.exit_code

    def _shard(self, args: argparse.Namespace) -> Shard | None:
        if args.shard and args.shards is not None:
            raise ReconcilerError("--shard and --shards: pass one of them")
        if args.shard:
            return parse_shard(args.shard)
        if args.shards is not None:
            return Shard(0, args.shards) if args.plan else shard_from_environment(args.shards, os.environ)
        return None

    async def _main(self, run: FleetRun, stop: StopRequest) -> None:
        try:
            async with anyio.create_task_group() as group:
                await group.start(watch_signals, stop)
                if not self.args.quiet:
                    group.start_soon(self._progress, run.state)
                await run.run()
                group.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise root_cause(group) from None

    async def _progress(self, state: FleetState) -> None:
        while True:
            await anyio.sleep(self.args.progress_interval)
            now = time.monotonic()
            running = "; ".join(f"{name} {render(progress, now)}" for name, progress in list(state.running.items()))
            ended = ", ".join(f"{n} {o}" for o, n in _outcome_counts(state).items())
            self._say(f"fleet: {len(state.records)} target(s) ended ({ended or 'none yet'}); "
                      f"{len(state.running)} running{': ' + running if running else ''}",
                      {"event": "progress", "ended": len(state.records), "running": len(state.running)})

    def _say(self, message: str, fields: Mapping[str, object]) -> None:
        if self.args.log_format == "json":
            line = self.console.line(message, logger="reconciler.fleet", fields=fields)
        else:
            line = self.console.line(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S} {message}", logger="reconciler.fleet")
        print(line, file=sys.stderr, flush=True)

    def _closing_line(self) -> str:
        assert self.state is not None
        counts = ", ".join(f"{n} {o}" for o, n in _outcome_counts(self.state).items()) or "no target"
        failed = [t for t, s in self.state.tenants.items() if (s.get("discovery") or {}).get("exit_code")]
        discovery = f"; discovery failed for {', '.join(failed)}" if failed else ""
        duration = (datetime.now(UTC) - self.started).total_seconds()
        return f"reconciler: fleet finished in {duration:.1f} s: {counts}{discovery}; exit {self.exit_code}"

    def failed(self, exit_code: int, message: str) -> int:
        self.exit_code, self.error = exit_code, self.console.mask(message)
        self.console.say(f"reconciler: error: {message}", level="ERROR")
        return exit_code

    def close(self) -> None:
        if self.report_path is None:
            return
        report = build_fleet_report(fleet=self.args.fleet_file, shard=str(self.shard) if self.shard else None,
                                    state=self.state, exit_code=self.exit_code, error=self.error,
                                    started_at=self.started, ended_at=datetime.now(UTC), resumed=self.resumed)
        try:
            write_report(self.report_path, report)
        except OSError as exc:
            self.console.say(f"reconciler: error: cannot write the report {self.report_path}: "
                             f"{exc.strerror or exc}", level="ERROR")


def _outcome_counts(state: FleetState) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in state.records:
        counts[str(record["outcome"])] = counts.get(str(record["outcome"]), 0) + 1
    return counts


def _plan(fleet: Fleet, count: int) -> dict[str, Any]:
    return {"fleet": str(fleet.path), "shards": [
        {"shard": f"{index}/{count}", "tenants": [
            {"tenant": tenant.tenant, "rate": tenant.rate, "discover": tenant.discovery is not None,
             "targets": [target.name for target in tenant.targets]} for tenant in tenants]}
        for index, tenants in enumerate(partition(fleet, count))]}


def _masker(credentials: Any, base_urls: list[str]) -> Masker:
    secrets: list[str | None] = [c.secret for c in credentials if isinstance(c, Credentials)]
    return Masker([*secrets, *(URL(url).password for url in base_urls)])
