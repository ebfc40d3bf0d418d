"""A simulated Bright Pattern contact center, for testing reconciliations without a real one.

It serves calling lists read from records files (CSV or Parquet) over the classic (HTTP Digest)
and v2 (OAuth2 bearer token) dialects of the List Management API, injects seeded faults on
request, and counts what it saw (``GET /__stats``). See ``README.md`` beside this file and the
format in ``reconciler.simulator.records``.

    async with run_simulator(SimulatorConfig(lists=(ListSource(path=Path("records.csv")),))) as sim:
        ...  # sim.base_url, sim.stats(), sim.reset_stats()

From a shell: ``reconciler simulate --records records.csv`` or
``python -m reconciler.simulator --records records.csv``.
"""

from __future__ import annotations

from reconciler.simulator.config import Account, ListSource, SimulatorConfig
from reconciler.simulator.faults import FaultConfig
from reconciler.simulator.quirks import QuirkConfig
from reconciler.simulator.server import RunningSimulator, run_simulator, serve

__all__ = [
    "Account",
    "FaultConfig",
    "ListSource",
    "QuirkConfig",
    "RunningSimulator",
    "SimulatorConfig",
    "run_simulator",
    "serve",
]
