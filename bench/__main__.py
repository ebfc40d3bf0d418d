"""``python -m bench`` (``make bench``): run the benchmark scenarios, print a table, write the results.

    python -m bench                 # every scenario, default sizes (about 10 minutes on 2 cores)
    python -m bench --quick         # a smoke run: small sizes, one repetition
    python -m bench --full          # larger sizes and more repetitions (well over 15 minutes)
    python -m bench --only ceiling --only profile

A complete default or full run writes ``bench/results/latest.json``; a quick or partial run writes
to the temporary folder unless ``--output`` says otherwise, so that it never replaces the figures
that ``docs/BENCHMARKS.md`` quotes. Benchmarks are not tests: a missed target is reported, and the
exit code is 0 unless a scenario could not be run at all.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench.figures import Scenario
from bench.plan import PLANS, Plan
from bench.report import machine, table, write_results
from bench.scenarios import SCENARIOS
from bench.tools import ensure_nginx, ensure_python_packages

LATEST = Path(__file__).resolve().parent / "results" / "latest.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="reconciler's benchmark suite")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes, one repetition (a smoke run)")
    size.add_argument("--full", action="store_true", help="larger sizes and more repetitions (10M-row CSV too)")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), metavar="SCENARIO",
                        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}")
    parser.add_argument("--output", type=Path, help="results file (default: see above)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The servers run in sessions of their own (a terminal's Ctrl-C does not reach them); a SIGTERM
    # must unwind like Ctrl-C does, so that every ``finally`` stops what it started.
    signal.signal(signal.SIGTERM, _terminated)
    mode = "quick" if args.quick else "full" if args.full else "default"
    plan = PLANS[mode]
    chosen = [name for name in SCENARIOS if not args.only or name in args.only]
    partial = mode == "quick" or bool(args.only)
    output = args.output or (Path(tempfile.gettempdir()) / f"reconciler-bench-{mode}.json" if partial else LATEST)
    ensure_python_packages()
    if any(SCENARIOS[name].NEEDS_NGINX for name in chosen):
        ensure_nginx()
    info = machine()
    print(f"bench: {mode} run of {', '.join(chosen)} on {info['nproc']} cores, Python {info['python']}, "
          f"load average {info['load_average_at_start'][0]:.2f}", flush=True)
    started = time.monotonic()
    done, failures = _run_all(chosen, plan)
    write_results(output, mode, info, done, failures, time.monotonic() - started)
    print(f"\n{table(done)}\n\nbench: {time.monotonic() - started:.0f} s in all; results in {output}")
    for name, error in failures.items():
        print(f"bench: scenario {name} FAILED: {error}", file=sys.stderr)
    return 1 if failures else 0


def _run_all(chosen: list[str], plan: Plan) -> tuple[list[Scenario], dict[str, str]]:
    done: list[Scenario] = []
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as folder:
        for name in chosen:
            print(f"\nbench: {name} ...", flush=True)
            started = time.monotonic()
            workdir = Path(folder) / name
            workdir.mkdir()
            try:
                scenario = SCENARIOS[name].run(plan, workdir)
            except Exception as exc:  # one broken scenario must not lose the others' figures
                traceback.print_exc()
                failures[name] = f"{type(exc).__name__}: {exc}"
                continue
            scenario.seconds = time.monotonic() - started
            done.append(scenario)
            print(table([scenario]), f"\n({scenario.seconds:.0f} s)", flush=True)
    return done, failures


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:  # every server and job was stopped on the way out
        print("\nbench: interrupted; no results written", file=sys.stderr)
        raise SystemExit(130) from None
