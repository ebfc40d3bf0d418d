"""Give a run its identity and the concrete paths its templates name, before anything is read or sent.

A new run gets a new ``RunIdentity``; a run that resumes an interrupted one (same journal, not
``--fresh``) keeps the identity noted in that journal, so that it finishes the partition it started.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from reconciler.config import ReconcileConfig
from reconciler.journal.store import noted_run
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
        if path is not None:
            check_template(path, option)
    journal = config.journal
    noted = None if config.fresh else noted_run(journal, retry_errors=config.retry_errors)
    run = RunIdentity.from_note(noted) if noted else RunIdentity.new(now or datetime.now(UTC))

    def concrete(template: Path | None) -> Path | None:
        if template is None:
            return None
        path = expand(template, run)
        make_partition_folder(template, path)
        return path

    resolved = replace(config, output_path=expand(config.output_path, run),
                       unmatched_path=concrete(config.unmatched_path), changes_path=concrete(config.changes_path),
                       journal_path=journal)
    make_partition_folder(config.output_path, resolved.output_path)
    return resolved, run


def forget_partition_folders(templates: ReconcileConfig, resolved: ReconcileConfig) -> None:
    """Remove the partition folders ``identify_run`` made for ``resolved`` that stayed empty."""
    for template, path in ((templates.output_path, resolved.output_path),
                           (templates.unmatched_path, resolved.unmatched_path),
                           (templates.changes_path, resolved.changes_path)):
        if template is not None and path is not None and template != path:
            remove_empty_partition_folders(template, path)
