"""A list whose getAll pages come as a live server was seen to answer them: in any order, with holes.

The reading the scan takes (``reconciler.stages.scan``): a page asked from ``fromIndex`` holds the
records with the lowest indexes from there on, in any order, with holes where records were deleted.
``ShuffledList`` answers exactly that (the simulator's ``--unordered-pages`` is meant to answer the
same), and can also be a worse server that breaks even that reading: one that leaves a record of a
page's range out (``skipped``: never in any page, yet found by Query a record), or sends again a
record of an earlier page (``resent``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from fakes import FakeSource, status

from reconciler.errors import TargetNotFound
from reconciler.lookup import ListedRecord, LookupResult, RecordStatus


def key_of(index: int) -> str:
    return f"{index:06d}"


class ShuffledList(FakeSource):
    """Records ``{"ACCOUNT_ID": "000000".., "name"}`` at indexes ``0..size-1`` less ``deleted``.

    ``shuffled``: the fromIndex values whose page comes shuffled (None: every page); a shuffled
    page ends on its lowest index, as the recorded one ended on 874 after running up to 1008.
    ``pages`` records each fromIndex asked; ``fail_after_pages`` raises on the page after that many.
    """

    def __init__(self, size: int, *, deleted: Iterable[int] = (), skipped: Iterable[int] = (),
                 shuffled: Iterable[int] | None = None, resent: Mapping[int, list[int]] | None = None,
                 fail_after_pages: int | None = None, seed: int = 23) -> None:
        gone = set(deleted)
        self.at = {i: (key_of(i),) for i in range(size) if i not in gone}  # index -> key tuple
        records = {key: ({"ACCOUNT_ID": key[0], "name": f"n{i}"}, status(completed=i % 3 == 0, total_attempts=1))
                   for i, key in self.at.items()}
        super().__init__(records=records, key_columns=("account_id",))
        self.skipped = set(skipped)
        self.shuffled = None if shuffled is None else set(shuffled)
        self.resent = dict(resent or {})
        self.fail_after_pages = fail_after_pages
        self.seed = seed
        self.pages: list[int] = []
        self.before_page: Callable[[int], None] = lambda from_index: None

    def call(self, index: int, disposition: str) -> None:
        """The record at ``index`` gets a call attempt: a later read of it tells more than an earlier one."""
        entry, old = self.records[self.at[index]]
        self.records[self.at[index]] = (entry, replace(old, last_disposition=disposition,
                                                       total_attempts=(old.total_attempts or 0) + 1))

    async def fetch_page(self, from_index: int, max_size: int) -> list[ListedRecord]:
        if self.fail_after_pages is not None and len(self.pages) >= self.fail_after_pages:
            raise TargetNotFound("campaign", "simulated crash")
        self.pages.append(from_index)
        self.before_page(from_index)
        resent = self.resent.get(from_index, [])  # in the place of the page's highest, so that it stays full
        indexes = sorted(i for i in self.at if i >= from_index and i not in self.skipped)[:max_size - len(resent)]
        if self.shuffled is None or from_index in self.shuffled:
            random.Random(self.seed + from_index).shuffle(indexes)
            lowest = min(indexes, default=None)
            if lowest is not None:
                indexes.remove(lowest)
                indexes.append(lowest)
        indexes += resent
        return [self.listed(i) for i in indexes]

    def listed(self, index: int) -> ListedRecord:
        entry, record = self.records[self.at[index]]
        return ListedRecord(index=index, entry=entry, record=record)

    async def query(self, key: Mapping[str, str]) -> LookupResult:
        return await super().query({"account_id": key["account_id"]})

    def record(self, index: int) -> RecordStatus:
        return self.records[self.at[index]][1]
