"""Ways a live server was seen to stray from the documentation; each is off unless asked for.

- ``unordered_pages``: getAll pages (classic, v2, and v3's getAllRecords) come shuffled, and the
  lists' indexes have holes (every 7th index unused, as deleted records leave them). A page still
  holds the records with the lowest indexes from ``fromIndex`` on; only their order inside the page
  is shuffled, never with the highest index last (a recorded answer ran 3, 23, 4, 2, 18, ... up to
  1008 and ended on 874).
- ``loose_phone_keys``: a key value asked finds a record whose stored value differs only by a
  leading ``+`` (``1001`` finds ``+1001``, and the other way round); the answer holds the stored value.
- ``changes_in_index_order``: getChanged and getCompleted (classic, v2) answer the records changed
  since ``fromTime`` in list-index order, ``maxSize`` of them, rather than oldest first (the order is
  not documented). A client that pages on from the latest time of a page then misses records.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

INDEX_HOLE_EVERY = 7  # with unordered pages, indexes 6, 13, 20, ... are unused


@dataclass(frozen=True, kw_only=True)
class QuirkConfig:
    """Which of a live server's recorded departures from the documentation the simulator imitates."""

    unordered_pages: bool = False
    loose_phone_keys: bool = False
    changes_in_index_order: bool = False

    def describe(self) -> str:
        """The quirks that are on, as their flags name them (for the startup line); ``""`` when none is."""
        names = [name for name in ("unordered_pages", "loose_phone_keys", "changes_in_index_order")
                 if getattr(self, name)]
        return ", ".join("--" + name.replace("_", "-") for name in names)

    @property
    def index_hole_every(self) -> int:
        """Every how many indexes one is left unused (0: none)."""
        return INDEX_HOLE_EVERY if self.unordered_pages else 0


def shuffled_page(rows: list[dict[str, object]], *, seed: int | None, salt: str) -> list[dict[str, object]]:
    """The rows of a page (each with an ``index``) in a shuffled order that does not end on the highest index.

    The same ``seed`` and ``salt`` (which names the request) give the same order; no seed, any order.
    """
    if len(rows) < 2:
        return rows
    rng = random.Random(f"{seed}|{salt}") if seed is not None else random.Random()
    order = list(rows)
    rng.shuffle(order)
    highest = max(range(len(order)), key=lambda position: _index(order[position]))
    if highest == len(order) - 1:
        order[0], order[-1] = order[-1], order[0]
    return order


def _index(row: dict[str, object]) -> int:
    index = row["index"]
    assert isinstance(index, int)
    return index
