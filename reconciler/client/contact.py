"""Whether the server was ever reached: a wrong address stops the run in seconds, not minutes.

Until some HTTP answer has come back (any status), the target is unproven, and a request that
cannot connect at all (refused, DNS failure, connection timeout) is retried for at most
``unreachable_after`` seconds (20 unless --unreachable-after) before the run stops with
``ServerUnreachable`` (exit 1). The first request of every run goes out alone, so this bounds how
long a run with a wrong --base-url or port lasts. Once the server has answered, a connection
failure is an outage like any other: retried under the whole policy, and stopped by the failure
span.

The first failure to connect, and the first after an answer, is a WARNING naming host:port and
why: a run that cannot reach its server must not look healthy in its progress lines.
"""

from __future__ import annotations

import logging

from reconciler.client.reply import AttemptFailed
from reconciler.client.retry import Tried
from reconciler.errors import ServerUnreachable

logger = logging.getLogger("reconciler.client")

# A TCP (and TLS) connection that takes longer is not coming; --timeout still bounds the whole attempt.
CONNECT_TIMEOUT_SECONDS = 10.0


class Contact:
    """What the client knows of its server's reachability; one per client (one per run)."""

    def __init__(self, budget: float) -> None:
        """``budget``: RequestPolicy.unreachable_after (the default leaves room for 5 to 8 attempts under the default
        backoff, 0.5 s doubling with full jitter, and for two connection timeouts: the run ends within 30 s)."""
        self._budget = budget
        self.reached = False
        self._failing = False  # warned since the last answer

    def answered(self) -> None:
        """An HTTP answer came back, whatever its status: the address is right."""
        self.reached, self._failing = True, False

    def failed(self, failure: AttemptFailed) -> None:
        """An attempt got no answer; the first failure to connect (since the last answer) is a WARNING."""
        if failure.connected or self._failing:
            return
        self._failing = True
        if self.reached:
            logger.warning("%s; retrying", failure.reason)
        else:
            logger.warning("%s; retrying for up to %g s before the run stops", failure.reason, self._budget)

    def connect_budget(self) -> float | None:
        """How long a request may go on failing to connect; None once the server has answered."""
        return None if self.reached else self._budget

    def check(self, tried: Tried, seconds: float) -> None:
        """Stop the run when a request of a server that never answered could not connect at all."""
        outcome = tried.outcome
        if not self.reached and isinstance(outcome, AttemptFailed) and not outcome.connected:
            raise ServerUnreachable(outcome.reason, tried.attempts, seconds)
