"""The run report (``--report PATH``): JSON a scheduler or an alert can act on.

Its schema is ``docs/report-schema.json`` (``report_version`` 2: ``figures.throttle`` and
``figures.retries_by_status`` say why a slow run was slow). It is written for every run past
the parsing of its flags, failed runs included (a dry run writes none), and never holds a secret:
configuration is copied field by field, never dumped wholesale, and the CLI masks the error text.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from yarl import URL

from reconciler.config import Destination, ReconcileConfig, shown, shown_proxy
from reconciler.errors import InputError
from reconciler.lookup import LookupStatus
from reconciler.reporting.stats import RunStats, ScanFigures, ThrottleFigures

REPORT_VERSION = 2
# The name on the Python package index (the import and the command are `reconciler`).
DISTRIBUTION = "brightpattern-reconciler"


def build_report(*, config: ReconcileConfig | None, stats: RunStats | None, exit_code: int,
                 error: str | None, started_at: datetime, ended_at: datetime) -> dict[str, Any]:
    """The report's content; ``stats`` is None when the run did not finish."""
    return {
        "report_version": REPORT_VERSION,
        "outcome": _outcome(exit_code, finished=stats is not None),
        "exit_code": exit_code,
        "error": error,
        "started_at": started_at.isoformat(),
        "ended_at": ended_at.isoformat(),
        "duration_seconds": round((ended_at - started_at).total_seconds(), 3),
        "versions": _versions(),
        "configuration": _configuration(config) if config is not None else None,
        "figures": report_figures(stats) if stats is not None else None,
        "first_errors": list(stats.first_errors) if stats is not None else [],
    }


def check_report_location(path: Path) -> None:
    """Fail before the run, not after an hour of it, when the report could not be written there."""
    if not path.parent.is_dir():
        raise InputError(path, f"the report's folder {path.parent} does not exist; create it or choose another")
    if path.is_dir():
        raise InputError(path, "the report path is a folder; name a file inside it")


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Write ``report`` to ``path`` atomically, so a watcher never reads half of it."""
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(report, stream, indent=2, ensure_ascii=False)
            stream.write("\n")
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _outcome(exit_code: int, *, finished: bool) -> str:
    if exit_code in (0, 1) and finished:
        return "complete" if exit_code == 0 else "complete_with_errors"
    if exit_code == 2:
        return "usage_or_input_error"
    if exit_code in (130, 143):
        return "interrupted"
    return "aborted"  # a fatal answer (3), the server gone for too long (1), or an unexpected failure


def versions() -> dict[str, str]:
    """The versions of Python, reconciler and the libraries that shape its answers."""
    return _versions()


def _versions() -> dict[str, str]:
    packages = ("aiohttp", "anyio", "tenacity", "pyarrow", "pandas")
    found = {name: _version(name) for name in packages}
    return {"python": platform.python_version(), "reconciler": _version(DISTRIBUTION), **found}


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def _configuration(config: ReconcileConfig) -> dict[str, Any]:
    target, policy = config.target, config.policy
    return {
        "input": shown(config.input_path), "output": shown(config.output_path),
        "input_format": config.input_format, "output_format": config.output_format,
        "input_encoding": config.input_encoding, "key_columns": list(config.key_columns),
        "base_url": str(URL(target.base_url).with_user(None)), "tenant": target.tenant,
        "list": target.list_name, "campaign": target.campaign, "dialect": target.dialect,
        "login": config.credentials.login, "secret": "<redacted>",
        "concurrency": policy.concurrency, "rate": None if policy.rate == float("inf") else policy.rate,
        "max_attempts": policy.max_attempts, "timeout": policy.timeout, "max_backoff": policy.max_backoff,
        "failure_span": policy.failure_span, "page_size": policy.page_size,
        "unreachable_after": policy.unreachable_after, "verify_tls": policy.verify_tls,
        "ca_bundle": str(policy.ca_bundle) if policy.ca_bundle is not None else None,
        "system_trust_store": policy.system_trust_store,
        "proxy": shown_proxy(policy.proxy) if policy.proxy is not None else None,
        "journal": str(config.journal), "fresh": config.fresh, "retry_errors": config.retry_errors,
        "skip_bad_rows": config.skip_bad_rows, "max_row_bytes": config.max_row_bytes, "strategy": config.strategy,
        "unmatched": shown(config.unmatched_path) if config.unmatched_path is not None else None,
        **_nightly_configuration(config),
    }


def _nightly_configuration(config: ReconcileConfig) -> dict[str, Any]:
    def text(path: Destination | None) -> str | None:
        return None if path is None else shown(path) if isinstance(path, Path) else str(path)

    return {"state": text(config.state_path), "changes": text(config.changes_path),
            "previous": text(config.previous_path), "full_refresh_after_seconds": config.full_refresh_after,
            "overlap_seconds": config.overlap}


def report_figures(stats: RunStats) -> dict[str, Any]:
    """The summary's figures as the report names them (also the keys of the JSON summary line)."""
    seconds = stats.duration_seconds
    return {
        "rows": stats.rows, "distinct_keys": stats.distinct_keys,
        # Every status, zeros included, so that an alert can read .figures.by_status.error as is.
        "by_status": {status.value: stats.by_status.get(status.value, 0) for status in LookupStatus},
        "requests_sent": stats.requests_sent, "retries": stats.retries,
        "retries_by_status": dict(stats.retries_by_status), "throttle": _throttle(stats.throttle),
        "achieved_rate": round(stats.requests_sent / seconds, 3) if seconds > 0 else None,
        "completed_rows": stats.completed_rows, "completion_rate": stats.completion_rate,
        "top_dispositions": [{"disposition": name, "rows": count} for name, count in stats.top_dispositions],
        "warnings": stats.warnings, "bad_rows_skipped": stats.bad_rows_skipped,
        "bad_row_lines": list(stats.bad_row_lines), "resumed": stats.resumed,
        "strategy": stats.strategy, "list_size": stats.list_size, "unmatched_records": stats.unmatched_records,
        "output": shown(stats.output_path),
        **_history_figures(stats),
    }


def _history_figures(stats: RunStats) -> dict[str, Any]:
    sync = stats.sync
    return {
        "run_id": stats.run_id, "run_date": stats.run_date.isoformat() if stats.run_date is not None else None,
        "sync": None if sync is None else {"full_read": sync.full_read, "reason": sync.reason or None,
                                           "pages": sync.pages, "changed_records": sync.changed,
                                           "asked_one_by_one": stats.asked_one_by_one,
                                           "records_read_twice": sync.records_read_twice,
                                           "pages_out_of_order": sync.pages_out_of_order},
        "scan": _scan(stats.scan),
        "changes": None if stats.changes_path is None else {"output": shown(stats.changes_path),
                                                            "rows": stats.changed_rows,
                                                            "earlier_runs_rows": stats.earlier_change_rows},
    }


def _scan(figures: ScanFigures | None) -> dict[str, Any] | None:
    if figures is None:
        return None
    return {"records_read_twice": figures.records_read_twice, "pages_out_of_order": figures.pages_out_of_order,
            "keys_asked": figures.keys_asked, "keys_found_by_asking": figures.keys_found_by_asking}


def _throttle(figures: ThrottleFigures) -> dict[str, Any]:
    return {
        "overload_answers": figures.overload_answers, "rate_cuts": figures.rate_cuts,
        "lowest_rate": None if figures.lowest_rate is None else round(figures.lowest_rate, 3),
        "retry_after_pauses": figures.retry_after_pauses,
        "retry_after_seconds": round(figures.retry_after_seconds, 3),
    }
