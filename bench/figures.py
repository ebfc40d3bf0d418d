"""What a scenario reports: figures over repetitions (median, min, max) and the targets they are held to."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Judged = Literal["median", "min", "max"]


@dataclass(frozen=True)
class Target:
    """A bound on one statistic of a figure: ``low <= figure.<on> <= high``."""

    low: float | None = None
    high: float | None = None
    on: Judged = "median"

    def met(self, figure: Figure) -> bool:
        value = getattr(figure, self.on)
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self) -> str:
        which = "" if self.on == "median" else f"{self.on} "
        if self.low is not None and self.high is not None:
            return f"{which}{self.low:g}..{self.high:g}"
        return f"{which}>= {self.low:g}" if self.low is not None else f"{which}<= {self.high:g}"


@dataclass
class Figure:
    """One measured quantity, one value per repetition."""

    name: str
    unit: str
    runs: list[float]
    target: Target | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def min(self) -> float:
        return min(self.runs)

    @property
    def max(self) -> float:
        return max(self.runs)

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.target.met(self)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "unit": self.unit, "median": self.median, "min": self.min, "max": self.max,
                "runs": self.runs, "target": self.target.describe() if self.target else None, "met": self.met}


@dataclass
class Scenario:
    """A scenario's outcome: its figures, how it was set up, and anything worth keeping beside them."""

    name: str
    title: str
    server: str
    setup: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"title": self.title, "server": self.server, "setup": self.setup, "seconds": round(self.seconds, 1),
                "figures": [figure.as_json() for figure in self.figures], "details": self.details}


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Pairwise ratios of runs measured side by side (alternating), so that drift hits both sides."""
    return [n / d for n, d in zip(numerators, denominators, strict=True)]


def steady_seconds(per_second: Mapping[str, int]) -> list[int]:
    """Requests in each whole second of a run: the first and last (partial) seconds dropped, gaps as 0."""
    if not per_second:
        return []
    seconds = sorted(int(second) for second in per_second)
    counts = {int(second): count for second, count in per_second.items()}
    return [counts.get(second, 0) for second in range(seconds[0] + 1, seconds[-1])]
