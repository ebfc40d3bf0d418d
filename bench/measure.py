"""Running measured client processes: ``bench.job`` specs, and the reconciler CLI with its peak RSS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JOB_TIMEOUT = 600.0
ROOT = Path(__file__).resolve().parent.parent


def run_job(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Run one ``bench.job`` in a fresh interpreter and return what it measured."""
    done = subprocess.run([sys.executable, "-m", "bench.job", json.dumps(spec)], cwd=ROOT, capture_output=True,
                          text=True, timeout=JOB_TIMEOUT, check=False, env=environment())
    if done.returncode != 0:
        raise RuntimeError(f"bench job {spec['kind']} failed ({done.returncode}): {done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@dataclass(frozen=True)
class CliRun:
    """A finished ``python -m reconciler run``: exit code, wall seconds, CPU seconds, peak RSS.

    ``peak_rss_mb`` is the kernel's own peak (``ru_maxrss``). It counts the pages of shared libraries
    the process touched, and how many those are depends on the page cache: just after an install,
    with the libraries' files wholly cached, the same run peaks 30-40 MB higher. ``peak_anon_mb``
    leaves them out: the peak of ``RssAnon`` (heap, Arrow buffers, stacks), sampled every
    ``SAMPLE_SECONDS``, so a peak shorter than that can be missed.
    """

    code: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    peak_anon_mb: float
    stderr: str


SAMPLE_SECONDS = 0.02


def run_cli(args: Sequence[str], env: Mapping[str, str], stderr_path: Path) -> CliRun:
    """The reconciler command as a user runs it; peak RSS from ``wait4`` of that very process."""
    started = time.perf_counter()
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "reconciler", *args], cwd=ROOT, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=stderr, env={**environment(), **env})
    peak_anon_kb = 0
    try:
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak_anon_kb = max(peak_anon_kb, _anon_kb(process.pid))
            time.sleep(SAMPLE_SECONDS)
    except BaseException:
        process.kill()
        process.wait()
        raise
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    return CliRun(process.returncode, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                  peak_anon_kb / 1024, stderr_path.read_text(errors="replace")[-3000:])


def _anon_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # it has just exited
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("RssAnon:")), 0)


def environment() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BP_")}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environment.get("PYTHONPATH")]))
    return environment
