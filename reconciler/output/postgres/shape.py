"""The shape of a PostgreSQL output table, without the driver: what a run writes, and what it replaces.

Kept apart from ``tables`` (which needs psycopg) so that the core install, without the
``[postgres]`` extra, imports every module that a file output uses.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date

from reconciler.output.postgres.columns import TEXT


@dataclass(frozen=True)
class Replace:
    """The rows of an earlier write that tonight's replace: those with ``column`` = ``value``."""

    column: str  # recon_run_date (status: a night's table) or recon_run_id (change feed: a run's rows)
    value: str | date
    run_date: date  # tonight's date


@dataclass(frozen=True)
class Layout:
    """The columns a table must have, and which of them it may lack (entry fields: added as text)."""

    columns: Mapping[str, str]  # name -> PostgreSQL type, in the order rows are written
    addable: Collection[str] = ()
    others_may_be_text: bool = False  # the status table: columns of other nights' entry fields


def column_difference(existing: Mapping[str, str], layout: Layout) -> tuple[str | None, list[str]]:
    """Why ``existing`` cannot take rows of ``layout`` (None when it can), and the columns to add."""
    for name, kind in layout.columns.items():
        if name in existing and existing[name] != kind:
            return f"column {name!r} is {existing[name]} in the table, but this run writes {kind}", []
    for name, kind in existing.items():
        if name not in layout.columns and not (layout.others_may_be_text and kind == TEXT):
            return f"the table has a column {name!r} ({kind}) that this run does not write", []
    missing = [name for name in layout.columns if name not in existing]
    for name in missing:
        if name not in layout.addable:
            return f"the table has no column {name!r} ({layout.columns[name]}), which this run writes", []
    return None, missing
