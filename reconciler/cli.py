"""The ``reconciler`` command: a thin adapter from flags to one library call and an exit code.

Exit codes: 0 every row resolved; 1 some rows ended in error (or the server failed for too long, or
could not be reached at all);
2 usage or input error, nothing sent; 3 the run was stopped by a fatal answer (authentication,
privilege, list or campaign not found); 130/143 interrupted by SIGINT/SIGTERM (journal kept).

Everything the command writes goes to stderr (stdout stays empty): the progress, the summary or
the dry run's plan, errors, and logs, all in the ``--log-format`` and masked by ``logs.Masker``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import anyio
from yarl import URL

from reconciler import __version__
from reconciler.config import ReconcileConfig
from reconciler.errors import KeyColumnsRequired, ReconcilerError, UsageError, root_cause
from reconciler.reporting.logs import Console, Masker, configure
from reconciler.reporting.stats import RunStats
from reconciler.wiring.settings import (
    UNREAD_CREDENTIALS,
    Presentation,
    add_run_options,
    build_config,
    build_presentation,
    describe_credentials,
    merge,
    read_config_file,
)

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
                              "(v2, v3) in the environment, or --password-file.",
                              epilog="Which --dialect: classic for Bright Pattern 3.x (HTTP Digest); v2 for 5.x "
                              "with List Management API 2.0; v3 for 5.x with List Management API 3.0 to 3.2, where "
                              "callinglist/get is deprecated (the campaign and list instance ids are looked up by "
                              "--campaign and --list, or given with --campaign-id and --instance-id). Example: "
                              "BP_CLIENT_ID=reports BP_CLIENT_SECRET=... reconciler run keys.csv --output "
                              "status.parquet --dialect v3 --base-url https://yourcompany.brightpattern.com "
                              "--tenant yourcompany.brightpattern.com --list List_1.txt --campaign Outbound_Q4 "
                              "--key account_id")
    run.add_argument("input", nargs="?", metavar="INPUT", help="key rows (.csv, .csv.gz or .parquet)")
    run.add_argument("--config", metavar="TOML", help="read settings from this file (flags override it)")
    run.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    add_run_options(run)
    from reconciler.simulator.cli import EPILOG, add_arguments

    simulate = commands.add_parser("simulate", help="serve a simulated Bright Pattern calling list",
                                   description="A faithful Bright Pattern List Management API for demos "
                                   "and tests (classic, v2 and v3 dialects), with digest auth, OAuth2 tokens "
                                   "and fault injection.", epilog=EPILOG)

    add_arguments(simulate)
    from reconciler.fleet.arguments import add_fleet_parser

    add_fleet_parser(commands)
    report = commands.add_parser("report", help="write a campaign audit page from an output table",
                                 description="Read an output table of 'reconciler run' (Parquet or CSV) and "
                                 "write one self-contained HTML page: headline, completion funnel, dispositions, "
                                 "attempts, last attempt dates, agents and mismatches.")
    report.add_argument("table", metavar="TABLE", help="an output table of reconciler run (.parquet, .csv, .csv.gz), "
                        "or a folder of them read as one table (a partition, or a root of partitions)")
    report.add_argument("--html", required=True, metavar="PATH", help="the page to write")
    report.add_argument("--unmatched", metavar="PATH", help="the run's --unmatched file: the list's side")
    report.add_argument("--exports", metavar="DIR", help="also write never-attempted, not-found and unmatched "
                        "rows as CSV files here, linked from the page")
    report.add_argument("--positive", metavar="DISPOSITIONS", help="comma-separated dispositions that count as "
                        "positive (e.g. 'Sale,Interested'); default: every completed record")
    report.add_argument("--run-report", metavar="PATH", help="the run's --report JSON: the tenant, list, campaign "
                        "and key the page names (flags below win over it)")
    report.add_argument("--tenant", help="the tenant the page names")
    report.add_argument("--list", help="the calling list the page names")
    report.add_argument("--campaign", help="the campaign the page names")
    report.add_argument("--key", action="append", metavar="COLUMN", help="the list's key column(s), to count "
                        "records (distinct keys) beside input rows; repeat for a composite key")
    sql = commands.add_parser("sql", help="print a SQL view over the nightly history").add_subparsers(
        dest="view", required=True, metavar="VIEW", parser_class=OneLineParser)
    scd = sql.add_parser("scd", help="one row per key and period of unchanged status (valid_from, valid_to, current)",
                         description="Print the view that turns every night's status table into a slowly changing "
                         "dimension, for DuckDB (over the Parquet history) or PostgreSQL (over the --output table).")
    scd.add_argument("--dialect", required=True, choices=("duckdb", "postgres"))
    scd.add_argument("--key", required=True, action="append", metavar="COLUMN", help="key column; repeat for a "
                     "composite key")
    scd.add_argument("--source", metavar="SQL", help="the nightly tables: a table name (postgres: recon_status) or "
                     "a DuckDB read_parquet(...) (default: status/**/*.parquet)")
    scd.add_argument("--view", default="recon_status_history", metavar="NAME", help="the view's name [%(default)s]")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:2] == ["simulate", "activity"]:  # a verb of its own: it talks to a running simulator
        from reconciler.simulator.activity_cli import main as move_campaign_on

        return move_campaign_on(arguments[2:])
    args = build_parser().parse_args(arguments)
    if args.command == "simulate":
        from reconciler.simulator.cli import run_from_args

        return run_from_args(args)
    if args.command == "report":
        return _report(args)
    if args.command == "fleet":
        from reconciler.fleet.command import run_fleet_command

        return run_fleet_command(args)
    if args.command == "sql":
        return _sql(args)
    return _run(args)


def _sql(args: argparse.Namespace) -> int:
    from reconciler.output.scd import scd_view

    try:
        print(scd_view(args.dialect, args.key, source=args.source, view=args.view), end="")
    except ReconcilerError as exc:
        print(f"reconciler: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


def _report(args: argparse.Namespace) -> int:
    from reconciler.reporting.audit import AuditContext, parse_positive, read_run_report, write_audit

    run_report = Path(args.run_report) if args.run_report else None
    try:
        context = (read_run_report(run_report) if run_report else AuditContext()).overridden(
            tenant=args.tenant, list_name=args.list, campaign=args.campaign, key_columns=args.key or ())
        write_audit(Path(args.table), Path(args.html), context=context, run_report=run_report,
                    unmatched=Path(args.unmatched) if args.unmatched else None,
                    exports=Path(args.exports) if args.exports else None, positive=parse_positive(args.positive))
    except ReconcilerError as exc:
        print(f"reconciler: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"reconciler: audit page written to {args.html}", file=sys.stderr)
    return 0


def _run(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    _use_the_system_allocator()
    run = _Run(args.verbose)
    try:
        return run.start(args)
    except KeyColumnsRequired as exc:  # the library's wording names key_columns; here it is a flag
        return run.failed(exc.exit_code, str(exc.naming("--key")))
    except ReconcilerError as exc:
        return run.failed(exc.exit_code, str(exc))
    except KeyboardInterrupt:  # before the run's own signal handling was in place
        return run.failed(130, "interrupted; rerun the same command to resume")
    except Exception as exc:  # a bug: the report still says the run failed, the traceback follows
        run.failed(1, f"unexpected {type(exc).__name__}: {exc}")
        raise
    finally:
        run.close(started)


class _Run:
    """One ``reconciler run``: what is known so far, so that any failure is reported as well as it can be."""

    def __init__(self, verbosity: int) -> None:
        self.verbosity = verbosity
        self.presentation = Presentation()
        self.config: ReconcileConfig | None = None
        self.stats: RunStats | None = None
        self.console = Console()
        self.exit_code = 0
        self.error: str | None = None

    def start(self, args: argparse.Namespace) -> int:
        settings = merge(args, read_config_file(Path(args.config)) if args.config else {}, os.environ)
        presentation = build_presentation(settings)
        self.console = Console(presentation.log_format)
        if presentation.report_path is not None and not presentation.dry_run:
            from reconciler.reporting.run_report import check_report_location

            check_report_location(presentation.report_path)
        if presentation.audit_path is not None and not presentation.dry_run:
            from reconciler.reporting.audit import require_matplotlib

            require_matplotlib()  # before anything is sent, not after the table is written
        self.presentation = presentation
        offline = presentation.dry_run and presentation.offline  # checks the configuration, never a secret
        self.config = config = build_config(settings, os.environ,
                                            credentials=UNREAD_CREDENTIALS if offline else None)
        if presentation.audit_path is not None and not isinstance(config.output_path, Path):
            raise UsageError("--audit reads the output table from a file; leave it out with a PostgreSQL --output")
        self.console = Console(presentation.log_format, _masker(config))
        configure(self.verbosity, presentation.log_format, self.console.mask, live_line=self._live_line())
        if presentation.dry_run:
            return self._dry_run(config, describe_credentials(settings, os.environ) if offline else None)
        self.stats = anyio.run(self._reconcile_showing_progress, config)
        self.exit_code = self.stats.exit_code
        self._summarize(self.stats)
        if presentation.audit_path is not None:
            self._write_audit(presentation.audit_path, config)
        return self.exit_code

    def _summarize(self, stats: RunStats) -> None:
        """The summary; quiet: nothing after a good run (cron mails whatever a job prints), the headline after errors.

        In JSON the line also carries the run report's figures as keys (docs/log-line-schema.json).
        """
        from reconciler.reporting.run_report import report_figures
        from reconciler.reporting.summary import format_summary, headline

        if self.presentation.quiet and stats.exit_code == 0:
            return
        text = headline(stats) if self.presentation.quiet else format_summary(stats)
        self.console.say(text, level="INFO" if stats.exit_code == 0 else "WARNING", logger="reconciler.summary",
                         fields=report_figures(stats))

    def _write_audit(self, path: Path, config: ReconcileConfig) -> None:
        from reconciler.config import is_template
        from reconciler.reporting.audit import AuditContext, write_audit

        assert self.stats is not None and isinstance(self.stats.output_path, Path)  # checked in start
        unmatched = config.unmatched_path
        target = config.target
        context = AuditContext(tenant=target.tenant, list_name=target.list_name, campaign=target.campaign,
                               key_columns=tuple(config.key_columns), key_is_first_column=not config.key_columns)
        write_audit(self.stats.output_path, path, context=context,
                    unmatched=unmatched if unmatched is not None and not is_template(unmatched) else None)
        if not self.presentation.quiet:  # quiet: warnings and errors only
            self.console.say(f"audit page written to {path}")

    def failed(self, exit_code: int, message: str) -> int:
        self.exit_code, self.error = exit_code, self.console.mask(message)
        self.console.say(f"reconciler: error: {message}", level="ERROR")
        return exit_code

    def close(self, started: datetime) -> None:
        """Write the report, if one was asked for (a dry run writes none)."""
        path = self.presentation.report_path
        if path is None or self.presentation.dry_run:
            return
        from reconciler.reporting.run_report import build_report, write_report

        report = build_report(config=self.config, stats=self.stats, exit_code=self.exit_code, error=self.error,
                              started_at=started, ended_at=datetime.now(UTC))
        try:
            write_report(path, report)
        except OSError as exc:
            self.console.say(f"reconciler: error: cannot write the report {path}: {exc.strerror or exc}",
                             level="ERROR")

    def _live_line(self) -> bool:
        # JSON logs are for machines: never a redrawn line, even on a terminal.
        return (not self.presentation.quiet and self.presentation.log_format == "text"
                and sys.stderr.isatty())

    async def _reconcile_showing_progress(self, config: ReconcileConfig) -> RunStats:
        from reconciler.reporting.progress import Progress, show_progress, timestamped
        from reconciler.wiring.pipeline import reconcile

        progress = Progress()
        console, presentation = self.console, self.presentation

        def line(text: str, fields: Mapping[str, object]) -> str:  # a JSON line carries its own time
            if presentation.log_format == "text":
                return console.line(timestamped(text), logger="reconciler.progress")
            return console.line(text, logger="reconciler.progress", fields=fields)

        try:
            async with anyio.create_task_group() as group:
                if not presentation.quiet:
                    group.start_soon(lambda: show_progress(progress, sys.stderr, interactive=self._live_line(),
                                                           interval=presentation.progress_interval, line=line))
                stats = await reconcile(config, handle_signals=True, progress=progress)
                group.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise root_cause(group) from None
        return stats

    def _dry_run(self, config: ReconcileConfig, credentials: str | None) -> int:
        from reconciler.wiring.plan import format_plan, plan_run

        async def plan() -> str:
            return format_plan(await plan_run(config, offline=self.presentation.offline), config,
                               credentials=credentials)

        self.console.say(anyio.run(plan), logger="reconciler.plan")
        return 0


def _use_the_system_allocator() -> None:
    # The command owns its process; a library caller keeps whatever pool and malloc settings it chose.
    # 1. Arrow's mimalloc pool keeps freed batches cached; the system allocator gives them back.
    #    set_memory_pool reaches what pyarrow allocates (arrays, compute, the Parquet writer), not what
    #    Arrow's C++ allocates on its own default pool (the Parquet reader's buffers): reconciler.input.read
    #    keeps that small by not pre-buffering row groups.
    # 2. glibc raises its trim and mmap thresholds (up to 32 MB) each time a big block is freed, so the
    #    blocks of one batch after another stay in the heap and peak RSS creeps up with the input's
    #    rows: 10 million rows peaked about 20 MB higher (docs/BENCHMARKS.md, memory). Fixing the trim
    #    threshold at glibc's default (which also stops the moving mmap threshold) hands freed memory
    #    back. The MALLOC_*_ environment variables, when set, win.
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        import pyarrow

        pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    if sys.platform != "linux" or {"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"} & os.environ.keys():
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # glibc; other C libraries may lack it
    except (OSError, AttributeError):
        return
    m_trim_threshold = -1
    mallopt(m_trim_threshold, 128 * 1024)


def _masker(config: ReconcileConfig) -> Masker:
    """Everything secret this run knows: the password or client secret, any password in the URL or the proxy's,
    the object stores' keys and PostgreSQL's password."""
    proxy = config.policy.proxy
    stores = [os.environ.get(name) for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                                "AZURE_STORAGE_ACCOUNT_KEY", "PGPASSWORD")]  # never shown
    return Masker([config.credentials.secret, URL(config.target.base_url).password,
                   URL(proxy).password if proxy else None, *stores])
