"""A real PostgreSQL server for the tests: ``initdb`` into a temporary folder, ``pg_ctl start`` on 127.0.0.1.

Debian's ``postgresql`` package (``.ci/run`` installs it) puts the server's programs under
``/usr/lib/postgresql/<version>/bin``, off the PATH. ``initdb`` refuses to run as root: as root the
server runs as the package's ``postgres`` user (``runuser``), elsewhere as the user running the tests.
Logins over TCP need a password (scram-sha-256), so that a wrong one is refused as in production.
Missing programs fail the tests that need the server, with the command that installs them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPERUSER = "recon_admin"
PASSWORD = "pg-Vb7!distinctive-secret-4410"
_INSTALL = "apt-get update && apt-get install -y postgresql"


@dataclass(frozen=True)
class PostgresServer:
    """A running server: its port, and the superuser's password (given to libpq as PGPASSWORD)."""

    port: int
    user: str = SUPERUSER
    password: str = PASSWORD

    def url(self, database: str, table: str, *, user: str | None = None) -> str:
        return f"postgresql://{user or self.user}@127.0.0.1:{self.port}/{database}?table={table}"

    def conninfo(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} dbname={database} user={self.user} password={self.password}"


def server_programs() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``; fails the test (never skips) when they are missing."""
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),  # the newest version first
                       key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0, reverse=True)
    for candidate in [shutil.which("initdb"), *installed]:
        if candidate and Path(candidate).with_name("pg_ctl").exists():
            return Path(candidate).resolve().parent
    pytest.fail(f"the PostgreSQL server programs (initdb, pg_ctl) are missing; install them: {_INSTALL}")


@contextmanager
def running_server() -> Iterator[PostgresServer]:
    """A fresh server for the session, stopped (and its files removed) at the end."""
    programs = server_programs()
    owner = _server_user()
    folder = Path(tempfile.mkdtemp(prefix="reconciler-pg-"))
    data, password_file, log = folder / "data", folder / "password", folder / "server.log"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    if owner is not None:
        shutil.chown(folder, owner.pw_uid, owner.pw_gid)
        shutil.chown(password_file, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    try:
        _as_owner(owner, [programs / "initdb", "-D", data, "-U", SUPERUSER, f"--pwfile={password_file}",
                          "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-locale"])
        options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={folder} -c fsync=off"
        _as_owner(owner, [programs / "pg_ctl", "-D", data, "-w", "-t", "60", "-l", log, "-o", options, "start"])
        try:
            yield PostgresServer(port)
        finally:
            # Immediate: the server's files are thrown away next, so the shutdown checkpoint that a fast stop
            # writes (every database the session created, page by page) would be time spent for nothing.
            _as_owner(owner, [programs / "pg_ctl", "-D", data, "-w", "-m", "immediate", "stop"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _server_user() -> pwd.struct_passwd | None:
    """Who the server runs as when the tests run as root (initdb refuses root); None: the current user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail(f"the tests run as root and there is no 'postgres' user for the server; {_INSTALL}")


def _as_owner(owner: pwd.struct_passwd | None, command: list[str | Path]) -> None:
    arguments = [str(part) for part in command]
    if owner is not None:
        arguments = ["runuser", "-u", owner.pw_name, "--", *arguments]
    done = subprocess.run(arguments, capture_output=True, text=True, timeout=120, check=False, cwd="/")
    if done.returncode != 0:
        pytest.fail(f"{' '.join(arguments)} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Database:
    """A database of its own for one test, on the session's server."""

    server: PostgresServer
    name: str

    def url(self, table: str, *, user: str | None = None) -> str:
        return self.server.url(self.name, table, user=user)

    def query(self, statement: str, *parameters: object) -> list[tuple[object, ...]]:
        import psycopg

        with psycopg.connect(self.server.conninfo(self.name), autocommit=True) as connection:
            cursor = connection.execute(statement, parameters or None)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def columns(self, table: str) -> dict[str, str]:
        rows = self.query("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                          "to_regclass(%s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum", table)
        return {str(name): str(kind) for name, kind in rows}


def new_database(server: PostgresServer, name: str) -> Database:
    import psycopg

    with psycopg.connect(server.conninfo(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return Database(server, name)
