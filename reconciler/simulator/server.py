"""Run the simulator: in-process (``async with run_simulator(...)``) or blocking until a signal."""

from __future__ import annotations

import asyncio
import functools
import signal
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from reconciler.errors import InputError, InvalidOption
from reconciler.simulator.activity import ActivityPlan, ActivityRefused
from reconciler.simulator.answers import Refusal
from reconciler.simulator.app import Simulator, build_app
from reconciler.simulator.config import SimulatorConfig
from reconciler.simulator.records import Catalog, load_catalog

SHUTDOWN_GRACE = 1.0  # seconds for answers in flight when the server stops (stalls are cut short)


@dataclass(frozen=True)
class RunningSimulator:
    """A simulator that is listening: where it is, and its counters."""

    base_url: str  # e.g. http://127.0.0.1:8080 (https:// with a TLS certificate)
    port: int
    config: SimulatorConfig
    catalog: Catalog
    _simulator: Simulator = field(repr=False)

    def stats(self) -> dict[str, object]:
        """The counters, as ``GET /__stats?keys=1`` serves them."""
        return self._simulator.stats.snapshot(include_keys=True)

    def reset_stats(self) -> None:
        """Zero the counters (as ``POST /__stats/reset``)."""
        self._simulator.stats.reset()

    def move_on(self, *, attempts: int = 0, complete: int = 0, add: int = 0, delete: int = 0, seed: int | None = None,
                list_name: str | None = None, campaign: str | None = None) -> dict[str, object]:
        """A round of calling activity (as ``POST /__activity``): what was done, or ``ActivityRefused``."""
        plan = ActivityPlan(attempts=attempts, complete=complete, add=add, delete=delete, seed=seed)
        done = self._simulator.move_on(plan, list_name=list_name, campaign=campaign)
        if isinstance(done, Refusal):
            raise ActivityRefused(done.text)
        return done

    def summary(self) -> str:
        """One line on what is served: tenant, lists with their campaigns, accounts."""
        lists = "; ".join(
            f"list {c.name!r} ({len(c)} records, key {','.join(c.key_fields)}) in {', '.join(c.campaigns) or '-'}"
            for c in self.catalog.lists.values()
        )
        users = ", ".join(u.login for u in self.config.users) or "-"
        clients = ", ".join(c.login for c in self.config.clients) or "-"
        faults = self.config.faults.describe()
        quirks = f"; quirks {self.config.quirks.describe()}" if self.config.quirks.describe() else ""
        return f"tenant {self.config.tenant}; {lists}; users {users}; clients {clients}; {faults}{quirks}"


@asynccontextmanager
async def run_simulator(
    config: SimulatorConfig, *, clock: Callable[[], float] = time.time
) -> AsyncIterator[RunningSimulator]:
    """Load the records, listen on ``config.host``/``config.port`` and stop on exit.

    ``clock`` (epoch seconds) drives token and nonce expiry, the rate ceiling and ``per_second``.
    """
    catalog = await asyncio.to_thread(functools.partial(
        load_catalog, config.lists, empty_campaigns=config.empty_campaigns, states=config.campaign_states,
        index_hole_every=config.quirks.index_hole_every))
    app, simulator = build_app(config, catalog, clock)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_GRACE)
    await runner.setup()
    try:
        await _listen(runner, config)
        port = int(runner.addresses[0][1])
        yield RunningSimulator(_base_url(config.host, port, tls=config.tls_cert is not None), port, config, catalog,
                               simulator)
    finally:
        await runner.cleanup()


async def _listen(runner: web.AppRunner, config: SimulatorConfig) -> None:
    site = web.TCPSite(runner, config.host, config.port, ssl_context=_tls_context(config))
    try:
        await site.start()
    except OSError as exc:
        raise InvalidOption("--host/--port", f"{config.host}:{config.port}",
                            f"an address this machine can listen on ({exc.strerror or exc})") from exc


def _tls_context(config: SimulatorConfig) -> ssl.SSLContext | None:
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: not PEM, or a key of another certificate
        raise InputError(config.tls_cert, f"cannot serve TLS with this certificate and the key {config.tls_key} "
                                          f"({getattr(exc, 'strerror', None) or exc})") from exc
    return context


def _base_url(host: str, port: int, *, tls: bool) -> str:
    scheme = "https" if tls else "http"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def serve(config: SimulatorConfig, *, on_ready: Callable[[RunningSimulator], None] | None = None) -> None:
    """Serve until SIGINT or SIGTERM; ``on_ready`` runs once the server is listening."""
    asyncio.run(_serve_until_signalled(config, on_ready))


async def _serve_until_signalled(
    config: SimulatorConfig, on_ready: Callable[[RunningSimulator], None] | None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        async with run_simulator(config) as running:
            if on_ready is not None:
                on_ready(running)
            await stop.wait()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
