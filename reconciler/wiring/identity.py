"""Give a run its identity and the concrete paths its templates name, before anything is read or sent.

A new run gets a new ``RunIdentity``; a run that resumes an interrupted one (same journal, not
``--fresh``) keeps the identity noted in that journal, so that it finishes the partition it started.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from reconciler.config import Destination, ReconcileConfig
from reconciler.journal.journal_file import noted_run
from reconciler.output.history import (
    RunIdentity,
    check_template,
    expand,
    make_partition_folder,
    remove_empty_partition_folders,
)


def identify_run(config: ReconcileConfig, now: datetime | None = None) -> tuple[ReconcileConfig, RunIdentity]:
    """``config`` with its output paths expanded for this run, and the run's identity."""
    templated = {"--output": config.output_path, "--unmatched": config.unmatched_path,
                 "--changes": config.changes_path}
    for option, path in templated.items():
        if isinstance(path, Path):  # a PostgreSQL table keeps every run's rows: no template
            check_template(path, option)
    journal = config.journal
    noted = None if config.fresh else noted_run(journal, retry_errors=config.retry_errors)
    run = RunIdentity.from_note(noted) if noted else RunIdentity.new(now or datetime.now(UTC))

    def concrete(template: Path) -> Path:
        path = expand(template, run)
        make_partition_folder(template, path)
        return path

    def destination(template: Destination) -> Destination:
        return concrete(template) if isinstance(template, Path) else template

    resolved = replace(config, output_path=destination(config.output_path),
                       unmatched_path=concrete(config.unmatched_path) if config.unmatched_path else None,
                       changes_path=destination(config.changes_path) if config.changes_path else None,
                       journal_path=journal)
    return resolved, run


def forget_partition_folders(templates: ReconcileConfig, resolved: ReconcileConfig) -> None:
    """Remove the partition folders ``identify_run`` made for ``resolved`` that stayed empty."""
    for template, path in ((templates.output_path, resolved.output_path),
                           (templates.unmatched_path, resolved.unmatched_path),
                           (templates.changes_path, resolved.changes_path)):
        if isinstance(template, Path) and isinstance(path, Path) and template != path:
            remove_empty_partition_folders(template, path)
