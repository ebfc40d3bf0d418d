"""Every check of the run's outputs that can fail before a request: files, and PostgreSQL tables.

A file must be writable where it is named and must not be the input, the journal or another output;
a PostgreSQL table must be reachable, with the columns the run writes (``output.postgres.preflight``,
imported only when a table is named, so that the core install needs no database driver).
"""

from __future__ import annotations

from pathlib import Path

from reconciler.config import DatabaseTable, ReconcileConfig
from reconciler.errors import InputError, UsageError
from reconciler.input.read import InputSpec
from reconciler.output.changes import changes_schema
from reconciler.output.join import plan_output
from reconciler.output.postgres import feed_layout, status_layout
from reconciler.output.writer import check_output_location, check_output_schema, output_format_for


def check_outputs(config: ReconcileConfig, spec: InputSpec) -> None:
    """Fail with a one-line error when an output could not be written, before anything is sent."""
    output, changes, unmatched = config.output_path, config.changes_path, config.unmatched_path
    if isinstance(output, Path):
        fmt, _ = output_format_for(output, config.output_format)
        check_output_location(output, config.input_path)
        check_output_schema(output, spec.schema, fmt)
    files = {config.input_path.resolve()} | ({output.resolve()} if isinstance(output, Path) else set())
    if unmatched is not None:
        output_format_for(unmatched, None)
        check_output_location(unmatched, config.input_path)
        if unmatched.resolve() in files:
            raise InputError(unmatched, "--unmatched must name a file of its own, not the input or output")
    if config.journal.resolve() in files | {unmatched.resolve() if unmatched else None}:
        raise InputError(config.journal, "--journal must name a file of its own, not the input or an output")
    if isinstance(changes, Path):
        output_format_for(changes, None)
        check_output_location(changes, config.input_path)
        if changes.resolve() in files | {config.journal.resolve()}:
            raise InputError(changes, "--changes must name a file of its own, not the input or output")
    _check_tables(config, spec)


def _check_tables(config: ReconcileConfig, spec: InputSpec) -> None:
    output, changes = config.output_path, config.changes_path
    tables = []
    if isinstance(output, DatabaseTable):
        tables.append((output, status_layout(plan_output(spec.schema, ()).schema, spec.key_columns)))
    if isinstance(changes, DatabaseTable):
        if isinstance(output, DatabaseTable) and (changes.url, changes.table) == (output.url, output.table):
            raise UsageError(f"--changes names the --output table {changes}; give the change feed a table of its own")
        tables.append((changes, feed_layout(changes_schema(spec.schema), spec.key_columns)))
    if tables:
        from reconciler.output.postgres.preflight import check_tables

        check_tables(tables)
