"""Seeded fault injection: what the network and the gateways in front of a real server do.

Faults apply to calling-list requests (query and getAll) once they have passed authentication.
Each request draws once from a seeded generator, so the same seed and the same sequence of
requests give the same faults. The fractions share one draw and must add up to at most 1.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import StrEnum

from reconciler.errors import InvalidOption


class Fault(StrEnum):
    """A fault injected into one request; the value is its name in the counters."""

    RATE_CEILING = "rate_ceiling"  # 429, Retry-After: 1: over the gateway's per-second ceiling
    FAIL_503 = "503"
    FAIL_429 = "429"
    RESET = "reset"  # the connection is closed without an answer
    HTML = "html"  # 200 with a proxy's HTML error page
    STALL = "stall"  # the answer comes after stall_seconds


@dataclass(frozen=True, kw_only=True)
class FaultConfig:
    """Which faults to inject and how often (fractions of requests, from 0 to 1)."""

    seed: int | None = None  # None: different faults on every run
    fail_503: float = 0.0
    fail_429: float = 0.0
    retry_after: float | None = None  # seconds, sent as Retry-After on the fail_429 answers
    rate_ceiling: float | None = None  # requests per 1-second window; None: no ceiling
    latency_ms: float = 0.0  # added to every answer
    jitter_ms: float = 0.0  # latency varies by up to this much either way
    reset: float = 0.0
    html: float = 0.0
    stall: float = 0.0
    stall_seconds: float = 60.0

    def __post_init__(self) -> None:
        for option, fraction in self._fractions():
            _check(0.0 <= fraction <= 1.0, option, fraction, "a fraction from 0 to 1")
        total = sum(fraction for _, fraction in self._fractions())
        _check(total <= 1.0 + 1e-9, "--fail-503/--fail-429/--reset/--html/--stall", total,
               "fractions that add up to at most 1")
        for option, seconds in (("--retry-after", self.retry_after), ("--latency", self.latency_ms),
                                ("--jitter", self.jitter_ms), ("--stall-seconds", self.stall_seconds)):
            _check(seconds is None or (seconds >= 0 and math.isfinite(seconds)), option, seconds,
                   "a number from 0 up")
        _check(self.rate_ceiling is None or self.rate_ceiling > 0, "--rate-ceiling", self.rate_ceiling,
               "requests per second above 0")

    def _fractions(self) -> list[tuple[str, float]]:
        return [("--reset", self.reset), ("--html", self.html), ("--fail-503", self.fail_503),
                ("--fail-429", self.fail_429), ("--stall", self.stall)]

    def describe(self) -> str:
        """A short account of the faults, e.g. ``faults (seed 7): 503 2%, latency 5±5 ms``."""
        parts = [f"{option.removeprefix('--').removeprefix('fail-')} {fraction:.4g}"
                 for option, fraction in self._fractions() if fraction]
        if self.rate_ceiling is not None:
            parts.append(f"rate ceiling {self.rate_ceiling:g}/s")
        if self.latency_ms or self.jitter_ms:
            parts.append(f"latency {self.latency_ms:g}±{self.jitter_ms:g} ms")
        if not parts:
            return "no faults"
        seed = f" (seed {self.seed})" if self.seed is not None else ""
        return f"faults{seed}: {', '.join(parts)}"


def _check(ok: bool, option: str, value: object, expected: str) -> None:
    if not ok:
        raise InvalidOption(option, value, expected)


@dataclass(frozen=True)
class FaultPlan:
    """What happens to one request: a fault (or none) and the delay before the answer."""

    fault: Fault | None
    delay: float  # seconds


class RateCeiling:
    """A gateway's fixed-window limit: at most ``per_second`` requests per whole epoch second."""

    def __init__(self, per_second: float) -> None:
        self._per_second = per_second
        self._window = -1
        self._admitted = 0

    def admit(self, now: float) -> bool:
        window = int(now)
        if window != self._window:
            self._window, self._admitted = window, 0
        if self._admitted >= self._per_second:
            return False
        self._admitted += 1
        return True


class FaultInjector:
    """Draws each request's fault and latency from seeded generators."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        seed = config.seed if config.seed is not None else random.SystemRandom().getrandbits(64)
        # Separate streams, so that turning latency on does not change which requests fail.
        self._faults = random.Random(f"faults:{seed}")
        self._latency = random.Random(f"latency:{seed}")
        self._ceiling = RateCeiling(config.rate_ceiling) if config.rate_ceiling is not None else None
        self._bands = [(fraction, Fault(kind)) for kind, fraction in (
            ("reset", config.reset), ("html", config.html), ("503", config.fail_503),
            ("429", config.fail_429), ("stall", config.stall)) if fraction > 0]

    def plan(self, now: float) -> FaultPlan:
        """The fault and delay for a request arriving at ``now`` (epoch seconds)."""
        if self._ceiling is not None and not self._ceiling.admit(now):
            return FaultPlan(Fault.RATE_CEILING, 0.0)
        return FaultPlan(self._draw_fault(), self._draw_delay())

    def _draw_fault(self) -> Fault | None:
        if not self._bands:
            return None
        draw = self._faults.random()
        for fraction, fault in self._bands:
            if draw < fraction:
                return fault
            draw -= fraction
        return None

    def _draw_delay(self) -> float:
        latency, jitter = self.config.latency_ms, self.config.jitter_ms
        if jitter:
            latency += self._latency.uniform(-jitter, jitter)
        return max(latency, 0.0) / 1000.0
