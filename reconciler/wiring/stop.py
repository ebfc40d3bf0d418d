"""A stop request (SIGINT/SIGTERM): each stage stops at its next safe point and the run says how to resume."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable

import anyio
import anyio.abc

from reconciler.errors import RunInterrupted
from reconciler.stages.query import STOP_GRACE_SECONDS

logger = logging.getLogger("reconciler.pipeline")
_SIGNAL_EXIT = {signal.SIGINT: ("SIGINT", 130), signal.SIGTERM: ("SIGTERM", 143)}


class StopRequest:
    """A SIGINT/SIGTERM received: each stage stops at its next safe point and the run says how to resume."""

    def __init__(self) -> None:
        self.received: tuple[str, int] | None = None
        self._listeners: list[Callable[[], None]] = []

    def request(self, signum: int) -> None:
        if self.received is None:  # said once: a user pressing Ctrl-C must see that it was heard
            logger.warning("%s received: stopping at the next safe point; requests in flight may take up to "
                           "%g s to finish (send it again to cancel them)", signal.Signals(signum).name,
                           STOP_GRACE_SECONDS)
        self.received = self.received or _SIGNAL_EXIT[signal.Signals(signum)]
        for listener in self._listeners:
            listener()

    def on_request(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` on a stop request; at once if one came before this stage began."""
        self._listeners.append(listener)
        if self.received is not None:
            listener()

    def check(self) -> None:
        """Raise ``RunInterrupted`` if a stop was requested (called between batches)."""
        if self.received is not None:
            raise RunInterrupted(*self.received)


async def watch_signals(stop: StopRequest, *,
                        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
    """Turn SIGINT/SIGTERM into stop requests until cancelled (main thread only)."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for signum in signals:
            stop.request(signum)
