"""The fleet ledger: which targets a fleet run has finished, so that the rerun of a killed fleet skips them.

A JSON file, replaced atomically each time a target ends, locked while its fleet runs (the
kernel's lock: released when the process dies, ``kill -9`` included). A fleet that runs to its end
removes it, whatever its targets' outcomes, as a run removes its journal: the next run starts
afresh. A fleet that is killed or interrupted leaves it, and its rerun (the same fleet file, the
same shard) skips each target that had finished ``complete`` on an input file unchanged since
(path, size and modification time). Every other target runs again, resuming from its own journal.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.errors import InputError, UsageError
from reconciler.fleet.file import Fleet
from reconciler.fleet.shards import Shard
from reconciler.journal.lock import JournalLock

LEDGER_VERSION = 1


class FleetBusy(UsageError):
    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"{path}: another reconciler fleet is running with this ledger (the same fleet file and "
                         "shard twice?); wait for it to finish")


def ledger_path(fleet: Fleet, shard: Shard | None, given: Path | None = None) -> Path:
    """``--ledger``, else the file's ``ledger``, else ``.FLEET.fleet-ledger`` in the working folder; a shard's own."""
    path = given or fleet.ledger or Path(f".{fleet.path.stem}.fleet-ledger")
    return path if shard is None else path.with_name(f"{path.name}.shard-{shard.index}-of-{shard.count}")


def input_identity(path: Path) -> dict[str, Any] | None:
    """What a finished target's input was; None when it cannot be read (the target then runs again)."""
    try:
        status = path.stat()
    except OSError:
        return None
    return {"input": str(path.resolve()), "size": status.st_size, "mtime_ns": status.st_mtime_ns}


class Ledger:
    """The open ledger of one fleet run (``open``, then ``finished``/``record`` per target, then ``close``)."""

    def __init__(self, path: Path, header: dict[str, Any], targets: dict[str, Any], lock: JournalLock,
                 resumed: bool) -> None:
        self.path, self._header, self._targets, self._lock, self.resumed = path, header, targets, lock, resumed

    @classmethod
    def open(cls, path: Path, fleet: Fleet, shard: Shard | None, started_at: str) -> Ledger:
        """Lock ``path`` and read what an unfinished run of the same fleet and shard left there."""
        if not path.parent.is_dir():
            raise InputError(path, f"the ledger's folder {path.parent} does not exist; create it or set ledger")
        lock = JournalLock(path, busy=FleetBusy)
        header = {"ledger_version": LEDGER_VERSION, "fleet": str(fleet.path), "fleet_sha256": fleet.digest,
                  "shard": str(shard) if shard else None, "started_at": started_at}
        earlier = _read(path)
        same = (earlier.get("ledger_version") == LEDGER_VERSION and earlier.get("fleet_sha256") == fleet.digest
                and earlier.get("shard") == header["shard"])
        targets = dict(earlier.get("targets", {})) if same else {}
        return cls(path, header, targets, lock, resumed=same)

    def finished(self, name: str, identity: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The record of ``name``'s complete run in the fleet run this one resumes, if its input is unchanged."""
        entry = self._targets.get(name)
        if not isinstance(entry, dict) or identity is None or entry.get("input") != dict(identity):
            return None
        record = entry.get("record")
        return record if isinstance(record, dict) and record.get("outcome") == "complete" else None

    def record(self, name: str, identity: Mapping[str, Any] | None, record: Mapping[str, Any]) -> None:
        """Note how ``name`` ended; on disk before the next target's end is noted."""
        self._targets[name] = {"input": dict(identity) if identity else None, "record": dict(record)}
        _write(self.path, {**self._header, "targets": self._targets})

    def close(self, *, ended: bool) -> None:
        """Release the lock; a fleet that ``ended`` removes its ledger, a killed or stopped one keeps it."""
        if ended:
            self.path.unlink(missing_ok=True)
        self._lock.close()


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}  # unreadable: nothing is skipped, every target runs (its journal still resumes it)
    return data if isinstance(data, dict) else {}


def _write(path: Path, data: Mapping[str, Any]) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, ensure_ascii=False)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
