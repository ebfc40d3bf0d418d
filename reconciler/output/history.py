"""History: which run wrote a table, and output paths that make one partition folder per run.

Every row carries ``recon_run_id`` and ``recon_run_date``. ``{date}`` (the run's UTC start date,
``2026-12-05``) and ``{run_id}`` in an output path make Hive-style partitions, e.g.
``out/run_date={date}/status.parquet``, which ``pandas.read_parquet("out")`` and DuckDB's
``hive_partitioning`` read as one table with a ``run_date`` column. A resumed run keeps the identity
noted in its journal, so it finishes the partition it started.
"""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from reconciler.config import concrete_folder, is_template
from reconciler.errors import InputError

PLACEHOLDERS = ("date", "run_id")
# A fleet file fills these in per target before a run sees its paths; a run alone has no value for them.
FLEET_PLACEHOLDERS = ("tenant", "campaign", "list")


@dataclass(frozen=True)
class RunIdentity:
    """Which run wrote a row: ``recon_run_id`` and ``recon_run_date`` (the run's start, UTC)."""

    run_id: str
    run_date: date

    @classmethod
    def new(cls, started: datetime) -> RunIdentity:
        """An id that sorts by time and cannot repeat: ``20261205T013000.482Z-3f9a1c``.

        To the millisecond: the SCD views order a table's runs by their ids, and two runs started in one
        second (a script that reruns at once) must not sort by their random part.
        """
        return cls(f"{started:%Y%m%dT%H%M%S}.{started.microsecond // 1000:03d}Z-{secrets.token_hex(3)}",
                   started.date())

    def to_note(self) -> str:
        return json.dumps({"run_id": self.run_id, "run_date": self.run_date.isoformat()})

    @classmethod
    def from_note(cls, note: str) -> RunIdentity:
        values = json.loads(note)
        return cls(str(values["run_id"]), date.fromisoformat(values["run_date"]))


def check_template(path: Path, option: str) -> None:
    """A one-line error for braces that are not ``{date}`` or ``{run_id}``."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(str(path)) if name is not None]
    except ValueError as exc:
        raise InputError(path, f"{option} is not a usable path template ({exc}); "
                               "use {date} or {run_id}, e.g. out/run_date={date}/status.parquet") from None
    unknown = sorted({name for name in names if name not in PLACEHOLDERS})
    if unknown:
        fleet = " ({tenant}, {campaign} and {list} belong in a fleet file: reconciler fleet)" \
            if set(unknown) & set(FLEET_PLACEHOLDERS) else ""
        raise InputError(path, f"{option} names unknown placeholders {', '.join('{' + n + '}' for n in unknown)}; "
                               f"use {{date}} or {{run_id}}, e.g. out/run_date={{date}}/status.parquet{fleet}")


def expand(path: Path, run: RunIdentity) -> Path:
    """``path`` with its placeholders filled in for ``run``."""
    if not is_template(path):
        return path
    return Path(str(path).format(date=run.run_date.isoformat(), run_id=run.run_id))


def remove_empty_partition_folders(template: Path, expanded: Path) -> None:
    """Undo ``make_partition_folder`` where nothing was written: a failed run leaves no empty partition."""
    base, folder = concrete_folder(template), expanded.parent
    while folder != base and base in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (another run's table, or this run's), or already gone
            return
        folder = folder.parent


def make_partition_folder(template: Path, expanded: Path) -> None:
    """Create the partition folders the template adds below its concrete folder."""
    if expanded.parent == template.parent or not concrete_folder(template).is_dir():
        return  # an untemplated folder, or a missing base: the output checks name it
    expanded.parent.mkdir(parents=True, exist_ok=True)
