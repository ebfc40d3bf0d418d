"""Which campaign an audit page is about: tenant, list, campaign and key, which the table does not hold.

``reconciler run --audit`` knows them from its own settings. ``reconciler report`` takes them from
its flags (``--tenant``, ``--list``, ``--campaign``, ``--key``) or from the run's JSON report
(``--run-report``), a flag winning over the report; what neither gives is shown as not known.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reconciler.errors import InputError


@dataclass(frozen=True, kw_only=True)
class AuditContext:
    """What the page names its subject by; None (or no keys): not known."""

    tenant: str | None = None
    list_name: str | None = None
    campaign: str | None = None
    key_columns: tuple[str, ...] = ()
    # The run named no key: its input had one column, keyed by it, which is the table's first column.
    key_is_first_column: bool = False
    run_id: str | None = None  # the run report's run, checked against the table's recon_run_id

    def overridden(self, *, tenant: str | None = None, list_name: str | None = None, campaign: str | None = None,
                   key_columns: Sequence[str] = ()) -> AuditContext:
        """This context with every given (non-empty) value in place of its own."""
        given: dict[str, Any] = {name: value for name, value in (("tenant", tenant), ("list_name", list_name),
                                                                 ("campaign", campaign)) if value}
        if key_columns:
            given["key_columns"] = tuple(key_columns)
        return replace(self, **given)


def read_run_report(path: Path) -> AuditContext:
    """The context a run's ``--report`` JSON gives: its configuration's tenant, list, campaign and key."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "no such run report") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"cannot be read as a run report (JSON): {exc}") from None
    configuration = report.get("configuration") if isinstance(report, dict) else None
    if not isinstance(configuration, dict):
        raise InputError(path, "is not a run report with a configuration (a run that failed before its "
                         "settings were read has none)")
    figures = report.get("figures") if isinstance(report.get("figures"), dict) else {}
    keys = configuration.get("key_columns")
    return AuditContext(tenant=_text(configuration.get("tenant")), list_name=_text(configuration.get("list")),
                        campaign=_text(configuration.get("campaign")),
                        key_columns=tuple(k for k in keys if isinstance(k, str)) if isinstance(keys, list) else (),
                        key_is_first_column=keys == [], run_id=_text(figures.get("run_id")))


def check_same_run(context: AuditContext, run_ids: set[str], *, report: Path, table: Path) -> None:
    """A run report of another run than the table's would name a campaign the table may not be of."""
    if context.run_id and run_ids and context.run_id not in run_ids:
        shown = ", ".join(sorted(run_ids)[:3]) + (" ..." if len(run_ids) > 3 else "")
        raise InputError(report, f"is the report of run {context.run_id}, but {table} holds run(s) {shown}: "
                         "give the report of the run that wrote the table")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
