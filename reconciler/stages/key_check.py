"""A read of the whole list stops at its first page when no record there has the --key fields.

A scan joins the list's records to the input by the --key fields. When ``--key`` names a field that
the list's records do not have (a column of the input that is not a key field of the list), every
record is counted unkeyed and every key ends ``not_found``: a table that looks complete and is
wrong. So the first non-empty page of a read (a scan, a nightly full read, v3's getAllRecords)
decides: when no record of it has every --key field with a value (names matched case-insensitively,
as the join matches them), the run stops with ``KeyFieldMissing``. Only the first page, and only
"no record": a key field merely empty on some records is normal, as the live server omits empty
values.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Protocol, TypeVar, runtime_checkable

from reconciler.errors import KeyFieldMissing
from reconciler.input.keys import entry_key_text
from reconciler.lookup import ListedPage, ListedRecord

Position = TypeVar("Position")


@runtime_checkable
class LocatedList(Protocol):
    """A source that can say which list it reads, and where (the HTTP clients do; a plain fake need not)."""

    def list_location(self) -> tuple[str, str]:
        """The calling list's name, and the URL its pages are read from."""
        ...


Page = TypeVar("Page", bound=Sequence[ListedRecord])


async def require_key_fields(pages: AsyncGenerator[tuple[Page, Position]], key_columns: Sequence[str],
                             source: object) -> AsyncGenerator[tuple[Page, Position]]:
    """``pages`` as they come, once the first non-empty one has shown a record with every key field."""
    checked = False
    async with aclosing(pages):
        async for page, position in pages:
            if page and not checked:
                check_key_fields(page, key_columns, source)
                checked = True
            yield page, position


def check_key_fields(page: Sequence[ListedRecord], key_columns: Sequence[str], source: object) -> None:
    """Raise ``KeyFieldMissing`` (naming ``source``'s list and URL) when no record of ``page`` has a key."""
    entries = ListedPage.of(page).entries  # a client's page: its entries as read, no record made
    if any(entry_key_text(entry, key_columns) is not None for entry in entries):
        return
    names: dict[str, str] = {}  # folded -> as the first record that has it spells it
    with_value: set[str] = set()
    for entry in entries:
        for name, value in entry.items():
            names.setdefault(name.casefold(), name)
            if value is not None and value.strip():
                with_value.add(name.casefold())
    # The fields no record has a value for; when each has one somewhere but no record has all: every one.
    missing = [column for column in key_columns if column.casefold() not in with_value] or list(key_columns)
    list_name, url = source.list_location() if isinstance(source, LocatedList) else (None, None)
    error = KeyFieldMissing(list_name, missing, key_columns, entry_fields=list(names.values()))
    raise error.asked_at(url) if url else error
