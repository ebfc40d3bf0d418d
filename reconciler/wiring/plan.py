"""``--dry-run``: check everything a run needs, say what it would do, and ask for no record.

The input is read once into a throw-away journal (to count distinct keys the same way a run does).
Unless ``--offline``, one getAll request for a single record proves the credentials, the list and
its binding to the campaign; when the strategy depends on the list's size (``auto`` over more than
a handful of keys, or ``scan``), the same one-record reads that a run makes learn that size, so the
plan states the strategy the run would take and its request count. No record is queried.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from yarl import URL

from reconciler.config import ReconcileConfig, shown
from reconciler.input.read import BadRows, InputSpec
from reconciler.journal.state import State
from reconciler.journal.store import Journal
from reconciler.reporting.summary import rows
from reconciler.stages.incremental import SyncPolicy, full_read_due
from reconciler.stages.load_keys import load_keys
from reconciler.stages.strategy import choose_strategy, list_size, probe_list, scan_requests, settled_strategy
from reconciler.wiring.identity import forget_partition_folders, identify_run
from reconciler.wiring.pipeline import SourceFactory, binding, default_source, prepare, state_binding


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What a run would do: the input's figures and the requests it would send."""

    rows: int
    distinct_keys: int
    invalid_rows: int
    bad_rows: int  # ragged CSV rows skipped (--skip-bad-rows)
    key_columns: tuple[str, ...]
    strategy: str
    expected_requests: str
    expected_seconds: float | None
    server_checked: bool
    list_size: int | None = None
    located: str | None = None  # v3: the campaign and list instance ids the run asks by


async def plan_run(config: ReconcileConfig, *, offline: bool,
                   source_factory: SourceFactory = default_source) -> Plan:
    """What a run with ``config`` would do; raises what the run would raise before its first query."""
    templates, (config, _) = config, identify_run(config)
    try:
        return await _plan(config, offline=offline, source_factory=source_factory)
    finally:  # a plan writes nothing, not even a partition folder
        forget_partition_folders(templates, config)


async def _plan(config: ReconcileConfig, *, offline: bool, source_factory: SourceFactory) -> Plan:
    spec = prepare(config)
    with tempfile.TemporaryDirectory(prefix="reconciler-plan-") as folder:
        journal = Journal.open(Path(folder) / "plan-journal", binding(config, spec), fresh=True)
        try:
            load_keys(journal, spec, BadRows(skip=config.skip_bad_rows))
            loaded, distinct = journal.load_summary(), journal.distinct_keys()
        finally:
            journal.close()
    settled = settled_strategy(config.strategy, distinct, unmatched=config.unmatched_path is not None)
    size, located = None, None
    if not offline:
        async with source_factory(replace(config, fresh=False)) as source:
            located = _located(source)
            await probe_list(source)
            if settled != "query":  # auto's choice, or a scan's request count, depends on it
                size = await list_size(source)
        if settled is None and size is None:  # a v3 list of unknown size: auto queries, as the run will
            settled = choose_strategy(distinct, None)
    if settled == "incremental":
        strategy, requests, count = "incremental", _incremental_requests(config, spec, size), None
    else:
        strategy, requests, count = _expected(settled, distinct, size)
    rate = config.policy.rate
    return Plan(rows=int(loaded["rows"]), distinct_keys=distinct, invalid_rows=int(loaded["invalid_rows"]),
                bad_rows=int(loaded.get("bad_rows", 0)), key_columns=spec.key_columns, strategy=strategy,
                expected_requests=requests,
                expected_seconds=None if math.isinf(rate) or count is None else count / rate,
                server_checked=not offline, list_size=size, located=located)


def _incremental_requests(config: ReconcileConfig, spec: InputSpec, size: int | None) -> str:
    """What an incremental run would ask, by what its state says (the state is only read)."""
    by_cursor = config.target.dialect == "v3"
    read, changes = ("getAllRecords", "getUpdatedRecords and getCompletedRecords") if by_cursor else \
        ("getAll", "getChanged and getCompleted")
    pages = f"{scan_requests(size):,} {read} pages" if size is not None else f"one {read} page per 1,000 records"
    if config.state_path is None or not config.state_path.exists():
        return f"a full read of the list ({pages}: the state {config.state_path} does not exist yet)"
    state = State.open(config.state_path, state_binding(config, spec))
    try:
        due = full_read_due(state, SyncPolicy(full_refresh_after=timedelta(seconds=config.full_refresh_after)),
                            datetime.now(UTC))
        mark = state.high_water()
    finally:
        state.close()
    if due is not None:
        return f"a full read of the list ({pages}: {due})"
    since = f"{mark:%Y-%m-%d %H:%M:%S} UTC" if mark is not None else "the start"
    return (f"{changes} pages from {since} less the overlap (one per 1,000 changed records), "
            "plus one per key the state does not hold")


def _expected(settled: str | None, distinct: int, size: int | None) -> tuple[str, str, int | None]:
    """The strategy, its requests in words, and their count when known (``settled``: see ``settled_strategy``)."""
    query = f"{distinct:,} (one per distinct key, plus retries)"
    if settled == "query":
        return "query", query, distinct
    if size is None:
        if settled == "scan":
            return "scan", "one per 1,000 records of the list, plus one", None
        return "auto", (f"query: {distinct:,}; scan: one per 1,000 records of the list; the run first learns "
                        "the list's size with about 2 x log2(size) one-record reads and takes the cheaper"), None
    pages = scan_requests(size)
    scan = f"{pages:,} getAll pages for a list of {size:,} records, plus retries"
    if settled == "scan":
        return "scan", scan, pages
    if choose_strategy(distinct, size) == "scan":
        return "auto: scan", f"{scan} (querying would take {distinct:,})", pages
    return "auto: query", f"{query} (a scan would take {pages:,} pages for a list of {size:,} records)", distinct


def format_plan(plan: Plan, config: ReconcileConfig) -> str:
    """The plan as the lines a dry run prints."""
    checked = "server not contacted (--offline)"
    if plan.server_checked:
        checked = "credentials, list and campaign checked with a one-record getAll read"
        if plan.list_size is not None:
            checked += "; the list's size learned with a few more"
    skipped = f", {plan.bad_rows:,} bad rows skipped" if plan.bad_rows else ""
    return "\n".join([
        "reconciler: dry run, nothing queried",
        f"  input            {config.input_path} ({rows(plan.rows)}{skipped})",
        f"  key columns      {', '.join(plan.key_columns)}",
        f"  distinct keys    {plan.distinct_keys:,} ({rows(plan.invalid_rows)} with an empty key, not sent)",
        f"  strategy         {plan.strategy}",
        f"  requests         {plan.expected_requests}",
        f"  duration         {_duration(plan, config)}",
        f"  target           {URL(config.target.base_url).with_user(None)} tenant {config.target.tenant}, list "
        f"{config.target.list_name}, campaign {config.target.campaign} ({config.target.dialect})",
        *([f"  ids              {plan.located}"] if plan.located else []),
        f"  server           {checked}",
        f"  output           {shown(config.output_path)}",
    ])


def _located(source: object) -> str | None:
    """The v3 ids a source found or was given, in words; None for a source that has none."""
    located = getattr(source, "located", None)
    campaign_id, instance_id = getattr(located, "campaign_id", None), getattr(located, "instance_id", None)
    if campaign_id is None or instance_id is None:
        return None
    found = getattr(located, "looked_up", ())
    how = {name: "found by name" if name in found else "given" for name in ("campaign", "instance")}
    return (f"campaign id {campaign_id} ({how['campaign']}), list instance id {instance_id} "
            f"({how['instance']})")


def _duration(plan: Plan, config: ReconcileConfig) -> str:
    if plan.expected_seconds is not None:
        return f"about {_clock(plan.expected_seconds)} at {config.policy.rate:g} requests/s (--rate), plus retries"
    if plan.strategy.endswith("query") or plan.list_size is not None:  # no --rate: the server's speed decides
        return "as fast as the server answers (no --rate limit)"
    return "unknown until the list's size is known (a scan reads it 1,000 records a request)"


def _clock(seconds: float) -> str:
    minutes, rest = divmod(math.ceil(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{rest:02d}s" if hours else f"{minutes}m{rest:02d}s" if minutes else f"{rest} s"
