"""The ``reconciler`` command: a thin adapter from flags to one library call and an exit code.

Exit codes: 0 every row resolved; 1 some rows ended in error (or the server failed for too long);
2 usage or input error, nothing sent; 3 the run was stopped by a fatal answer (authentication,
privilege, list or campaign not found); 130/143 interrupted by SIGINT/SIGTERM (journal kept).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from reconciler import __version__
from reconciler.errors import ReconcilerError
from reconciler.settings import add_run_options, build_config, merge, read_config_file

EXIT_USAGE = 2
log = logging.getLogger("reconciler")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reconciler", description="Where does every record of a calling "
                                     "list stand in a Bright Pattern campaign?")
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="reconcile a key file against the server",
                              description="Query every key of INPUT and write one joined, typed table. "
                              "Credentials: BP_USERNAME/BP_PASSWORD (classic) or BP_CLIENT_ID/BP_CLIENT_SECRET "
                              "(v2) in the environment.")
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "simulate":
        from reconciler.simulator.cli import run_from_args

        return run_from_args(args)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    from reconciler.pipeline import run
    from reconciler.summary import format_summary

    _configure_logging(args.verbose)
    try:
        file_settings = read_config_file(Path(args.config)) if args.config else {}
        config = build_config(merge(args, file_settings, os.environ), os.environ)
        stats = run(config, handle_signals=True)
    except ReconcilerError as exc:
        print(f"reconciler: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("reconciler: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    print(format_summary(stats), file=sys.stderr)
    return stats.exit_code


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(level)
