"""The ``reconciler`` command: a thin adapter from flags to one library call and an exit code.

Exit codes: 0 every row resolved; 1 some rows ended in error (or the server failed for too long);
2 usage or input error, nothing sent; 3 the run was stopped by a fatal answer (authentication,
privilege, list or campaign not found); 130/143 interrupted by SIGINT/SIGTERM (journal kept).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import anyio

from reconciler import __version__, logs
from reconciler.config import ReconcileConfig
from reconciler.errors import ReconcilerError, root_cause
from reconciler.settings import Presentation, add_run_options, build_config, build_presentation, merge, read_config_file
from reconciler.stats import RunStats

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the problem, not a page of usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"reconciler: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="reconciler", description="Where does every record of a calling list stand "
                           "in a Bright Pattern campaign?")
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=OneLineParser)
    run = commands.add_parser("run", help="reconcile a key file against the server",
                              description="Query every key of INPUT and write one joined, typed table. "
                              "Credentials: BP_USERNAME/BP_PASSWORD (classic) or BP_CLIENT_ID/BP_CLIENT_SECRET "
                              "(v2) in the environment, or --password-file.")
    run.add_argument("input", nargs="?", metavar="INPUT", help="key rows (.csv, .csv.gz or .parquet)")
    run.add_argument("--config", metavar="TOML", help="read settings from this file (flags override it)")
    run.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    add_run_options(run)
    simulate = commands.add_parser("simulate", help="serve a simulated Bright Pattern calling list",
                                   description="A faithful Bright Pattern List Management API for demos "
                                   "and tests, with digest auth, OAuth2 tokens and fault injection.")
    from reconciler.simulator.cli import add_arguments

    add_arguments(simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "simulate":
        from reconciler.simulator.cli import run_from_args

        return run_from_args(args)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    config: ReconcileConfig | None = None
    presentation = Presentation()
    try:
        settings = merge(args, read_config_file(Path(args.config)) if args.config else {}, os.environ)
        presentation = build_presentation(settings)
        config = build_config(settings, os.environ)
        logs.configure(args.verbose, presentation.log_format, [config.credentials.secret])
        if presentation.dry_run:
            return _dry_run(config, presentation)
        stats = anyio.run(_reconcile_showing_progress, config, presentation)
    except ReconcilerError as exc:
        print(f"reconciler: error: {exc}", file=sys.stderr)
        _report(presentation, config, None, exc.exit_code, str(exc), started)
        return exc.exit_code
    except KeyboardInterrupt:
        print("reconciler: interrupted; rerun the same command to resume", file=sys.stderr)
        _report(presentation, config, None, 130, "interrupted", started)
        return 130
    from reconciler.summary import format_summary

    print(format_summary(stats), file=sys.stderr)
    _report(presentation, config, stats, stats.exit_code, None, started)
    return stats.exit_code


async def _reconcile_showing_progress(config: ReconcileConfig, presentation: Presentation) -> RunStats:
    from reconciler.pipeline import reconcile
    from reconciler.progress import Progress, show_progress

    progress = Progress()
    interactive = sys.stderr.isatty()
    try:
        async with anyio.create_task_group() as group:
            if not presentation.quiet:
                group.start_soon(lambda: show_progress(progress, sys.stderr, interactive=interactive,
                                                       interval=presentation.progress_interval))
            stats = await reconcile(config, handle_signals=True, progress=progress)
            group.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise root_cause(group) from None
    return stats


def _dry_run(config: ReconcileConfig, presentation: Presentation) -> int:
    from reconciler.plan import format_plan, plan_run

    async def plan() -> str:
        return format_plan(await plan_run(config, offline=presentation.offline), config)

    print(anyio.run(plan), file=sys.stderr)
    return 0


def _report(presentation: Presentation, config: ReconcileConfig | None, stats: RunStats | None, exit_code: int,
            error: str | None, started: datetime) -> None:
    if presentation.report_path is None:
        return
    from reconciler.report import build_report, write_report

    report = build_report(config=config, stats=stats, exit_code=exit_code, error=error, started_at=started,
                          ended_at=datetime.now(UTC))
    try:
        write_report(presentation.report_path, report)
    except OSError as exc:
        print(f"reconciler: error: cannot write the report {presentation.report_path}: {exc.strerror}",
              file=sys.stderr)
