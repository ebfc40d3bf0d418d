"""What happened to a loaded calling list while the simulator ran: calls, completions, records added or deleted.

Per campaign, each record that had activity keeps its whole status now, its call attempts newest
first, and the times (epoch milliseconds, the server's clock) of its last activity and of its
completion: getChanged and getCompleted answer from these. Only records with activity take memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class CampaignActivity:
    """The activity of one list's records in one campaign."""

    statuses: dict[int, dict[str, object]] = field(default_factory=dict)
    attempts: dict[int, list[dict[str, object]]] = field(default_factory=dict)  # newest first
    changed_at: dict[int, int] = field(default_factory=dict)  # ms of the record's last activity
    completed_at: dict[int, int] = field(default_factory=dict)  # ms of its completion


class ListOverlay:
    """Records added (indexed after the loaded ones) and deleted, and every campaign's activity."""

    def __init__(self, loaded: int) -> None:
        self.loaded = loaded
        self.added: list[dict[str, str]] = []
        self.deleted: set[int] = set()
        self.campaigns: dict[str, CampaignActivity] = {}
        self.latest_ms = 0  # the newest activity time given so far

    @property
    def end(self) -> int:
        return self.loaded + len(self.added)

    def add(self, entry: dict[str, str]) -> int:
        self.added.append(entry)
        return self.end - 1

    def delete(self, index: int) -> None:
        self.deleted.add(index)
        for activity in self.campaigns.values():
            activity.changed_at.pop(index, None)
            activity.completed_at.pop(index, None)

    def status(self, campaign: str, index: int) -> Mapping[str, object] | None:
        activity = self.campaigns.get(campaign)
        return activity.statuses.get(index) if activity is not None else None

    def record_attempt(self, campaign: str, index: int, *, status: dict[str, object],
                       attempt: dict[str, object], earlier: Sequence[dict[str, object]], at_ms: int) -> None:
        """Store a call attempt and the status it leaves; ``earlier``: attempts known from before (first call)."""
        activity = self.campaigns.setdefault(campaign, CampaignActivity())
        attempts = activity.attempts.setdefault(index, list(earlier))
        attempts.insert(0, attempt)
        activity.statuses[index] = status
        activity.changed_at[index] = at_ms
        if status.get("completed") is True:
            activity.completed_at[index] = at_ms
        self.latest_ms = max(self.latest_ms, at_ms)

    def changed_since(self, campaign: str, since_ms: int, *, completed: bool) -> list[int]:
        """Indices with activity (or a completion) at or after ``since_ms``, oldest first, ties by index."""
        activity = self.campaigns.get(campaign)
        if activity is None:
            return []
        times = activity.completed_at if completed else activity.changed_at
        return [index for at, index in sorted((at, index) for index, at in times.items() if at >= since_ms)]

    def attempts(self, campaign: str, index: int) -> list[dict[str, object]]:
        activity = self.campaigns.get(campaign)
        return list(activity.attempts.get(index, [])) if activity is not None else []

    def time_of(self, campaign: str, index: int, *, completed: bool) -> int:
        activity = self.campaigns[campaign]
        return (activity.completed_at if completed else activity.changed_at)[index]
