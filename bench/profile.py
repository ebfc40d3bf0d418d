"""Where a run's CPU time goes: py-spy samples a ``bench.job`` process, summarised by frame and package.

py-spy samples from outside the process (no instrumentation, so the profiled run behaves like an
unprofiled one) and, by default, only threads that are running, so the shares below are shares of
CPU time, not of waiting. Frames are named ``file:function``, with the file relative to its package.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.measure import ROOT, environment
from bench.tools import py_spy

SAMPLE_RATE = 250  # per second
_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>.*)\)$")
_STDLIB = str(Path(json.__file__).resolve().parent.parent)


def profile_job(spec: Mapping[str, Any], top: int = 15, watch: Sequence[str] = ()) -> dict[str, Any]:
    """Run ``spec`` under py-spy; the top frames by own and by inclusive time, and time by package.

    Only the measured run is counted: samples of interpreter start-up and of the job's preparation
    (reading the key file) are left out. ``watch``: frames whose inclusive share to report whatever it is.
    """
    binary = py_spy()
    if binary is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as folder:
        raw = Path(folder) / "profile.txt"
        command = [binary, "record", "--format", "raw", "--nolineno", "--full-filenames", "--rate",
                   str(SAMPLE_RATE), "--output", str(raw), "--", sys.executable, "-m", "bench.job", json.dumps(spec)]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, env=environment())
        if done.returncode != 0 or not raw.exists():
            raise RuntimeError(f"py-spy failed ({done.returncode}): {done.stderr[-2000:]}")
        stacks = [stack for stack in _read_stacks(raw.read_text(encoding="utf-8", errors="replace").splitlines())
                  if _measured(stack[0])]
    return summarise(stacks, top, watch)


def _measured(frames: list[str]) -> bool:
    """Samples of the measured run (its event loop and worker threads), not of start-up and preparation."""
    return frames[0].startswith("stdlib/threading.py:") or any(
        frame.startswith("bench/job.py:") and frame.endswith(".<locals>.run") for frame in frames)


def _read_stacks(lines: Iterable[str]) -> Iterable[tuple[list[str], int]]:
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            yield [_name(frame) for frame in stack.split(";")], int(count)


def _name(frame: str) -> str:
    match = _FRAME.match(frame)
    if match is None:
        return frame
    return f"{_short_path(match['path'])}:{match['function']}"


def _short_path(path: str) -> str:
    """``aiohttp/client.py``, ``reconciler/client/transport.py``, ``stdlib/asyncio/events.py``."""
    if "site-packages/" in path:
        return path.rsplit("site-packages/", 1)[1]
    marker = f"{ROOT}/"
    if path.startswith(marker):
        return path[len(marker):]
    if path.startswith(_STDLIB):
        return "stdlib" + path[len(_STDLIB):]
    return path


def package_of(frame: str) -> str:
    """The package a frame belongs to: ``aiohttp``, ``reconciler.client``, ``stdlib.asyncio``, ..."""
    path = frame.split(":", 1)[0]
    parts = path.split("/")
    if parts[0] == "reconciler" and len(parts) > 2:
        return f"reconciler.{parts[1]}"
    if parts[0] == "stdlib" and len(parts) > 1:
        return "stdlib." + parts[1].removesuffix(".py")
    return parts[0].removesuffix(".py")


# Which part of a run a sample belongs to: the innermost frame naming one of these claims it, and
# standard-library frames (asyncio, json, sqlite3) are charged to whoever called them. The catch-alls
# (``GENERIC``) only claim a sample that nothing more specific did.
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("HTTP request and answer (aiohttp, yarl)", ("aiohttp/", "yarl/", "multidict/", "reconciler/client/transport.py")),
    ("retry policy (tenacity, client/retry.py)", ("tenacity/", "reconciler/client/retry.py")),
    ("pacing and connection limit", ("reconciler/client/pacing.py",)),
    ("reading the answer (classify, answer, reply)", ("reconciler/client/classify.py", "reconciler/client/answer.py",
                                                      "reconciler/client/reply.py")),
    ("journal (sqlite, json.dumps)", ("reconciler/journal/",)),
    ("query stage (workers, commits)", ("reconciler/stages/query.py",)),
    ("reading keys", ("reconciler/stages/load_keys.py:load_keys", "reconciler/input/")),
    ("joining and writing the table", ("reconciler/output/write.py:write_output", "reconciler/output/", "pyarrow/")),
    ("client, other (client.py)", ("reconciler/client/",)),
    ("the bench's own loop", ("bench/baselines.py",)),
)
GENERIC: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("reconciler, other", ("reconciler/",)),
    ("anyio, other", ("anyio/",)),
)
# Frames every sample of a run passes through: they say nothing about where its time goes.
_CARRIERS = ("anyio/_core/_eventloop.py:run", "anyio/_backends/_asyncio.py:AsyncIOBackend.run",
             "anyio/_core/_tasks.py:TaskHandle._run_coro", "anyio/_backends/_asyncio.py:WorkerThread.run",
             "reconciler/wiring/pipeline.py:run", "bench/job.py:")
_WAITING = ("stdlib/threading.py:Condition.wait", "stdlib/selectors.py:EpollSelector.select",
            "stdlib/threading.py:Lock.acquire")
WAITING = "waiting (epoll, idle worker threads)"
EVENT_LOOP = "event loop scheduling (asyncio), start-up"


def component_of(frames: list[str]) -> str:
    """The part of the run a sample's stack (root first) belongs to."""
    if frames[-1].startswith(_WAITING):
        return WAITING
    inner_first = [frame for frame in reversed(frames) if not frame.startswith(_CARRIERS)]
    for table in (COMPONENTS, GENERIC):
        for frame in inner_first:
            for name, markers in table:
                if any(marker in frame for marker in markers):
                    return name
    return EVENT_LOOP


def summarise(stacks: list[tuple[list[str], int]], top: int, watch: Sequence[str] = ()) -> dict[str, Any]:
    total = sum(count for _, count in stacks) or 1
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    components: Counter[str] = Counter()
    for frames, count in stacks:
        own[frames[-1]] += count
        components[component_of(frames)] += count
        packages[package_of(frames[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count

    def shares(counter: Counter[str], limit: int) -> list[dict[str, Any]]:
        return [{"frame": name, "share": round(n / total, 4)} for name, n in counter.most_common(limit)]

    return {"samples": total, "sample_rate": SAMPLE_RATE, "own": shares(own, top),
            "inclusive": shares(inclusive, top * 3), "packages": shares(packages, top),
            "components": shares(components, len(COMPONENTS) + len(GENERIC) + 2),
            "watched": {frame: round(inclusive[frame] / total, 4) for frame in watch}}
