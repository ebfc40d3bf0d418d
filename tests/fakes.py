"""A plain in-memory RecordSource for pipeline tests: no HTTP, no sleeping."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from reconciler.config import Credentials, ReconcileConfig, Target
from reconciler.lookup import ChangedRecord, ListedRecord, LookupResult, LookupStatus, RecordStatus


@dataclass
class FakeSourceStats:
    requests_sent: int = 0
    retries: int = 0


@dataclass
class FakeSource:
    """Answers from a dict of key tuple -> (entry, status fields); counts what it was asked."""

    records: dict[tuple[str, ...], tuple[dict[str, str | None], RecordStatus]]
    key_columns: tuple[str, ...]
    asked: Counter[tuple[str, ...]] = field(default_factory=Counter)
    stats: FakeSourceStats = field(default_factory=FakeSourceStats)
    fail: Callable[[Mapping[str, str]], LookupResult | None] = lambda key: None

    async def query(self, key: Mapping[str, str]) -> LookupResult:
        values = tuple(key[c] for c in self.key_columns)
        self.asked[values] += 1
        self.stats.requests_sent += 1
        if (failure := self.fail(key)) is not None:
            return failure
        if values not in self.records:
            return LookupResult(status=LookupStatus.NOT_FOUND, attempts=1, http_status=404,
                                error="record is not found")
        entry, status = self.records[values]
        return LookupResult(status=LookupStatus.FOUND, attempts=1, http_status=200, entry=entry, record=status)

    async def fetch_page(self, from_index: int, max_size: int) -> list[ListedRecord]:
        items = list(self.records.values())[from_index:from_index + max_size]
        return [ListedRecord(index=from_index + i, entry=e, record=s) for i, (e, s) in enumerate(items)]

    async def fetch_changes(self, since: datetime, max_size: int) -> list[ChangedRecord]:
        return []  # a list on which nothing happens (tests/stages/campaign.py moves one on)

    async def fetch_completed(self, since: datetime, max_size: int) -> list[ChangedRecord]:
        return []

    def factory(self) -> Callable[[ReconcileConfig], object]:
        @asynccontextmanager
        async def open_source(config: ReconcileConfig) -> AsyncIterator[FakeSource]:
            yield self

        return open_source


def status(**fields: object) -> RecordStatus:
    return RecordStatus(**fields)  # type: ignore[arg-type]


WHEN = datetime(2021, 2, 19, 19, 12, 21, tzinfo=UTC)


TARGET = Target(base_url="http://127.0.0.1:9", tenant="t", list_name="List_1.txt", campaign="Camp")
CREDENTIALS = Credentials(login="user", secret="pw")


def config(tmp_path: Path, input_name: str = "keys.csv", output_name: str = "out.parquet",
           **overrides: object) -> ReconcileConfig:
    settings: dict[str, object] = {"target": TARGET, "credentials": CREDENTIALS, "strategy": "query", **overrides}
    return ReconcileConfig(input_path=tmp_path / input_name, output_path=tmp_path / output_name,
                           **settings)  # type: ignore[arg-type]
