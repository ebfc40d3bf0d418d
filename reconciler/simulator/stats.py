"""Counters of what the simulator saw, served at ``GET /__stats`` (``?keys=1`` adds the per-key map).

Requests to ``/__stats`` and ``/__activity`` themselves are not counted. A query is counted for its key whatever its
outcome (injected faults included) once its body names every key field.
"""

from __future__ import annotations

from collections import Counter

ENDPOINTS = ("query", "getAll", "getChanged", "getCompleted", "token", "campaigns", "other")


class SimulatorStats:
    """Mutable counters; the event loop is the only writer, so no lock is needed."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Forget everything counted so far (requests in flight stay in flight)."""
        self.requests_total = 0
        self.by_status: Counter[str] = Counter()
        self.by_endpoint: Counter[str] = Counter(dict.fromkeys(ENDPOINTS, 0))
        self.digest_challenges = 0
        self.stale_challenges = 0
        self.tokens_issued = 0
        self.requests_per_key: Counter[str] = Counter()
        self.max_requests_per_key = 0
        self.peak_in_flight = self.in_flight
        self.per_second: Counter[int] = Counter()
        self.faults_injected: Counter[str] = Counter()

    def request_started(self, endpoint: str, now: float) -> None:
        self.requests_total += 1
        self.by_endpoint[endpoint] += 1
        self.per_second[int(now)] += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def request_finished(self, http_status: int | None) -> None:
        """A request ended with this status (``None``: the connection was dropped without one)."""
        self.in_flight -= 1
        if http_status is not None:
            self.by_status[str(http_status)] += 1

    def challenged(self, *, stale: bool) -> None:
        self.digest_challenges += 1
        self.stale_challenges += stale

    def token_issued(self) -> None:
        self.tokens_issued += 1

    def key_queried(self, key_text: str) -> None:
        self.requests_per_key[key_text] += 1
        self.max_requests_per_key = max(self.max_requests_per_key, self.requests_per_key[key_text])

    def fault_injected(self, kind: str) -> None:
        self.faults_injected[kind] += 1

    def snapshot(self, *, include_keys: bool = False) -> dict[str, object]:
        """The counters as JSON-ready data (map keys are strings)."""
        data: dict[str, object] = {
            "requests_total": self.requests_total,
            "by_status": dict(sorted(self.by_status.items())),
            "by_endpoint": dict(self.by_endpoint),
            "digest_challenges": self.digest_challenges,
            "stale_challenges": self.stale_challenges,
            "tokens_issued": self.tokens_issued,
            "distinct_keys_queried": len(self.requests_per_key),
            "max_requests_per_key": self.max_requests_per_key,
            "peak_in_flight": self.peak_in_flight,
            "in_flight": self.in_flight,
            "per_second": {str(second): count for second, count in sorted(self.per_second.items())},
            "faults_injected": dict(sorted(self.faults_injected.items())),
        }
        if include_keys:
            data["requests_per_key"] = dict(self.requests_per_key)
        return data
