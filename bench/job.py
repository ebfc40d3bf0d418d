"""One measured client run, in a process of its own: ``python -m bench.job '<json spec>'``.

Each run gets a fresh interpreter (no warm caches, no memory left by an earlier run) and measures
itself from inside, so that interpreter start-up and imports are not counted: wall seconds, CPU
seconds of the whole process (every thread), and peak RSS. It prints one JSON object.

Spec keys: ``kind`` (``reconciler``, ``aiohttp``, ``requests-sequential``, ``requests-threads``),
``base_url``, ``keys`` (a Parquet key file), ``concurrency``, ``rate`` (reconciler; ``"inf"``),
``auth`` (send digest credentials), ``workdir`` (reconciler's output and journal), ``loop``
(reconciler: ``"uvloop"`` to run it on uvloop instead of asyncio's own loop), ``strategy``, ``state``
and ``output`` (reconciler: the nightly scenario's runs; default ``query``, no state, ``out.parquet``).
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import baselines
from bench.data import read_keys
from bench.servers import CAMPAIGN, KEY_COLUMN, LIST_NAME, LOGIN, PASSWORD, TENANT, query_url


def _reconciler(spec: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    import anyio

    import reconciler

    if spec.get("loop") == "uvloop":
        import uvloop  # noqa: F401 (imported before the clock starts)

    rate = math.inf if spec["rate"] == "inf" else float(spec["rate"])
    workdir = Path(spec["workdir"])
    state = spec.get("state")
    config = reconciler.ReconcileConfig(
        input_path=Path(spec["keys"]),
        output_path=workdir / spec.get("output", "out.parquet"),
        target=reconciler.Target(base_url=spec["base_url"], tenant=TENANT, list_name=LIST_NAME,
                                 campaign=CAMPAIGN, dialect="classic"),
        credentials=reconciler.Credentials(login=LOGIN, secret=PASSWORD),
        key_columns=(KEY_COLUMN,),
        policy=reconciler.RequestPolicy(concurrency=spec["concurrency"], rate=rate),
        fresh=True,
        # nginx cannot answer getAll: the default figures are about per-key queries
        strategy=spec.get("strategy", "query"),
        state_path=Path(state) if state else None,
    )

    def run() -> dict[str, Any]:
        if spec.get("loop") == "uvloop":  # the stretch measurement: reconciler itself runs asyncio's own loop
            stats = anyio.run(reconciler.reconcile, config, backend_options={"use_uvloop": True})
        else:
            stats = reconciler.run(config)
        return {"records": stats.rows, "distinct_keys": stats.distinct_keys, "requests_sent": stats.requests_sent,
                "by_status": dict(stats.by_status), "ok": stats.by_status.get("found", 0)}

    return run


def _baseline(spec: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    keys = read_keys(Path(spec["keys"]))
    url = query_url(spec["base_url"])
    auth = (LOGIN, PASSWORD) if spec.get("auth") else None
    kind = spec["kind"]

    def run() -> dict[str, Any]:
        if kind == "aiohttp":
            round_trips: list[float] = []
            ok = asyncio.run(baselines.bare_aiohttp(url, keys, spec["concurrency"], auth, round_trips))
            return {"records": len(keys), "ok": ok, "round_trip_ms": statistics.median(round_trips) * 1000}
        if kind == "requests-sequential":
            ok = baselines.requests_sequential(url, keys, auth)
        else:
            ok = baselines.requests_threads(url, keys, auth, spec["concurrency"])
        return {"records": len(keys), "ok": ok}

    return run


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Prepare the run (outside the measurement), then time it."""
    if spec["kind"] == "reconciler":
        run = _reconciler(spec)
    else:
        import requests  # noqa: F401 (imported before the clock starts, like reconciler)

        run = _baseline(spec)
    cpu, wall = time.process_time(), time.perf_counter()
    result = run()
    result["seconds"] = time.perf_counter() - wall
    result["cpu_seconds"] = time.process_time() - cpu
    result["peak_rss_mb"] = _peak_rss_kb() / 1024
    return result


def _peak_rss_kb() -> float:
    # Linux carries ru_maxrss over exec: a job started by a big bench process would report that
    # process's peak. VmHWM is the peak of this program's own memory.
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return float(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
