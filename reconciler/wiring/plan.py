"""``--dry-run``: check everything a run needs, say what it would do, and ask for no record.

The input is read once into a throw-away journal (to count distinct keys the same way a run does).
Unless ``--offline``, one getAll (v3: getAllRecords) request for a single record proves the
credentials, the list and its binding to the campaign; when the strategy depends on the list's size
(``auto`` over more than a handful of keys, ``scan``, ``incremental``), the plan learns that size as
a run does (classic and v2: one-record reads searching for the list's end; v3: Get Campaign's
``totalRecords``), so it states the strategy the run would take and its request count. An
incremental plan reads the state (``plan_night``). No record is queried. ``--offline`` contacts
nothing and needs no credentials.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from yarl import URL

from reconciler.config import ReconcileConfig, shown, shown_proxy
from reconciler.input.read import BadRows
from reconciler.journal.store import Journal
from reconciler.reporting.summary import rows
from reconciler.stages.load_keys import load_keys
from reconciler.stages.strategy import choose_strategy, list_size, probe_list, scan_requests, settled_strategy
from reconciler.wiring.identity import forget_partition_folders, identify_run
from reconciler.wiring.pipeline import SourceFactory, binding, default_source, prepare
from reconciler.wiring.plan_night import incremental_requests, read_night


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
    at_least: bool = False  # the requests counted are a floor (an incremental run's changes may take more)
    list_size: int | None = None
    located: str | None = None  # v3: the campaign and list instance ids the run asks by
    by_cursor: bool = False  # v3: the list is read by getAllRecords' cursor, its size from Get Campaign


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
            night = read_night(config, spec, journal) if config.strategy == "incremental" else None
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
            settled = choose_strategy(distinct, None, page_size=config.policy.page_size)
    by_cursor = config.target.dialect == "v3"
    if settled == "incremental":
        strategy, (requests, count, at_least) = "incremental", incremental_requests(config, night, size)
    else:
        (strategy, requests, count), at_least = _expected(settled, distinct, size, by_cursor=by_cursor,
                                                          page_size=config.policy.page_size), False
    rate = config.policy.rate
    return Plan(rows=int(loaded["rows"]), distinct_keys=distinct, invalid_rows=int(loaded["invalid_rows"]),
                bad_rows=int(loaded.get("bad_rows", 0)), key_columns=spec.key_columns, strategy=strategy,
                expected_requests=requests,
                expected_seconds=None if math.isinf(rate) or count is None else count / rate, at_least=at_least,
                server_checked=not offline, list_size=size, located=located, by_cursor=by_cursor)


def _expected(settled: str | None, distinct: int, size: int | None, *,
              by_cursor: bool, page_size: int) -> tuple[str, str, int | None]:
    """The strategy, its requests in words, and their count when known (``settled``: see ``settled_strategy``)."""
    query, read = f"{distinct:,} (one per distinct key, plus retries)", _read(by_cursor)
    per_page = f"one {read} page per {page_size:,} records of the list"
    if settled == "query":
        return "query", query, distinct
    if size is None:
        if settled == "scan":
            return "scan", f"{per_page}, plus one", None
        learn = ("takes the list's size from Get Campaign's totalRecords (unknown with --instance-id: it then "
                 "queries)") if by_cursor else "first learns the list's size with about 2 x log2(size) one-record reads"
        return "auto", f"query: {distinct:,}; scan: {per_page}; the run {learn} and takes the cheaper", None
    pages = scan_requests(size, page_size=page_size)
    scan = f"{pages:,} {read} pages for a list of {size:,} records, plus retries"
    if settled == "scan":
        return "scan", scan, pages
    if choose_strategy(distinct, size, page_size=page_size) == "scan":
        return "auto: scan", f"{scan} (querying would take {distinct:,})", pages
    return "auto: query", f"{query} (a scan would take {pages:,} pages for a list of {size:,} records)", distinct


def _read(by_cursor: bool) -> str:
    """The request that reads the list in pages."""
    return "getAllRecords" if by_cursor else "getAll"


def format_plan(plan: Plan, config: ReconcileConfig, *, credentials: str | None = None) -> str:
    """The plan as the lines a dry run prints; ``credentials``: what an offline plan says of them."""
    checked = "server not contacted (--offline)"
    if plan.server_checked:
        target = "campaign and list instance" if plan.by_cursor else "list and campaign"
        checked = f"credentials, {target} checked with a one-record {_read(plan.by_cursor)} read"
        if plan.list_size is not None:
            checked += "; the list's size from Get Campaign's totalRecords" if plan.by_cursor else \
                "; the list's size learned with a few more"
    skipped = f", {plan.bad_rows:,} bad rows skipped" if plan.bad_rows else ""
    return "\n".join([
        "reconciler: dry run, nothing queried",
        f"  input            {config.input_path} ({rows(plan.rows)}{skipped})",
        f"  key columns      {', '.join(plan.key_columns)}",
        f"  distinct keys    {plan.distinct_keys:,} ({rows(plan.invalid_rows)} with an empty or oversized key, "
        "not sent)",
        f"  strategy         {plan.strategy}",
        f"  requests         {plan.expected_requests}",
        f"  duration         {_duration(plan, config)}",
        f"  target           {URL(config.target.base_url).with_user(None)} tenant {config.target.tenant}, list "
        f"{config.target.list_name}, campaign {config.target.campaign} ({config.target.dialect})",
        *([f"  ids              {plan.located}"] if plan.located else []),
        *([f"  network          {network}"] if (network := _network(config)) else []),
        f"  server           {checked}",
        *([f"  credentials      {credentials}"] if credentials else []),
        f"  output           {shown(config.output_path)}",
    ])


def _network(config: ReconcileConfig) -> str | None:
    """The proxy and the trust, when not the defaults (a direct connection, OpenSSL's authorities)."""
    policy = config.policy
    said = [f"through the proxy {shown_proxy(policy.proxy)}"] if policy.proxy else []
    if policy.ca_bundle is not None:
        said.append(f"certificates verified with the CA bundle {policy.ca_bundle}")
    elif policy.system_trust_store:
        said.append("certificates verified with the system trust store")
    elif not policy.verify_tls:
        said.append("certificates NOT verified (--insecure)")
    return "; ".join(said) or None


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
        about = "at least" if plan.at_least else "about"
        more = f", more pages if more than {config.policy.page_size:,} records changed" if plan.at_least else ""
        rate = f"{config.policy.rate:g} requests/s (--rate)"
        return f"{about} {_clock(plan.expected_seconds)} at {rate}{more}, plus retries"
    known = plan.strategy.endswith("query") or plan.list_size is not None or plan.at_least
    if known and math.isinf(config.policy.rate):  # no --rate: the server's speed decides
        return "as fast as the server answers (no --rate limit)"
    read = "a full read" if plan.strategy == "incremental" else "a scan"
    return f"unknown until the list's size is known ({read} reads it {config.policy.page_size:,} records a request)"


def _clock(seconds: float) -> str:
    minutes, rest = divmod(math.ceil(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{rest:02d}s" if hours else f"{minutes}m{rest:02d}s" if minutes else f"{rest} s"
