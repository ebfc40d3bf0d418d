"""The real command, forked from a process that has already imported it.

About 260 end-to-end runs each spent 0.5 s of CPU starting an interpreter and importing pyarrow and
aiohttp: a third of the suite's CPU on a 2-core machine. A *launcher* (this file run as a script, one per
test worker) imports the command once; for each run it forks a process that takes the test's arguments,
environment, working directory and standard streams, runs ``reconciler/__main__.py`` as ``python -m
reconciler`` does, and exits through the interpreter's own shutdown. The test sees what a subprocess
gives it: the exit code (a signal as a negative code), stdout and stderr.

What a fork cannot give is what an interpreter reads from the environment while it starts or imports
(locale, ``TZ``'s first read, ``PYTHON*``, malloc's settings, OpenSSL's default paths in aiohttp's
default context). So a run forks only when its environment differs from the launcher's in names the
command reads at run time (``RUN_TIME_VARIABLES``); any other run starts a real interpreter, as does every
run when ``RECONCILER_TESTS_SPAWN_CLI=1``.

Protocol on a Unix socket: the test sends one JSON request with its stdin and two pipes' write ends
(SCM_RIGHTS); a per-request process (forked by the launcher) forks the run, sends ``{"pid": ...}``, waits
for it and sends ``{"status": ...}`` (a wait status).
"""

from __future__ import annotations

import gc
import json
import os
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

# Read by the command (settings, network, fleet files' secret names, libpq at connect, S3 at first use)
# when it runs, never while Python starts or a module is imported.
# pytest's own (PYTEST_CURRENT_TEST changes with every test) are read by nobody in the command.
RUN_TIME_VARIABLES = re.compile(r"BP_\w+|AWS_\w+|PG\w+|(HTTPS?|NO|ALL)_PROXY|SSL_CERT_FILE|JOB_COMPLETION_INDEX"
                                r"|ACME_\w+|BETA_\w+|PYTEST_\w+", re.IGNORECASE)
SPAWN_ONLY = "RECONCILER_TESTS_SPAWN_CLI"

# What runs import beyond ``reconciler.cli`` (the command imports them lazily); never pandas, psycopg or the
# simulator, which a run of the command does not load.
_WARM_MODULES = ("reconciler.cli", "reconciler.client.client", "reconciler.client.v3", "reconciler.client.changes",
                 "reconciler.reporting.run_report", "reconciler.reporting.summary", "reconciler.wiring.plan",
                 "reconciler.fleet.command", "reconciler.output.schemas", "reconciler.output.scd",
                 "reconciler.reporting.audit", "pyarrow.parquet", "pyarrow.csv", "pyarrow.json")


class Launcher:
    """One launcher process for this test worker, started at the first run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._environment: dict[str, str] = {}
        self._folder: Path | None = None

    def serves(self, environment: Mapping[str, str]) -> bool:
        if not hasattr(os, "fork"):
            return False
        reference = self._environment or environment
        return all(RUN_TIME_VARIABLES.fullmatch(name) for name in
                   reference.keys() ^ environment.keys() | {n for n in reference.keys() & environment.keys()
                                                           if reference[n] != environment[n]})

    def start(self, environment: Mapping[str, str]) -> None:
        with self._lock:
            if self._process is not None:
                return
            self._folder = Path(tempfile.mkdtemp(prefix="reconciler-launcher-"))
            self._environment = {k: v for k, v in environment.items() if not RUN_TIME_VARIABLES.fullmatch(k)}
            # Its stdin is a pipe that nobody writes: at EOF (this worker gone) the launcher exits.
            self._process = subprocess.Popen([sys.executable, __file__, str(self._socket)], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, env=self._environment, cwd="/")
            assert self._process.stdout is not None
            if self._process.stdout.readline() != b"ready\n":
                raise RuntimeError("the CLI launcher did not start")

    def run(self, args: Sequence[str], environment: Mapping[str, str], *, timeout: float,
            started: Callable[[int], None] = lambda pid: None) -> tuple[int, bytes, bytes]:
        """Run the command in a forked process; (exit code, stdout, stderr). Blocking: call it from a thread.

        ``started`` is given the run's process id as soon as it is known.
        """
        self.start(environment)
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.connect(str(self._socket))
                request = json.dumps({"args": list(args), "env": dict(environment), "cwd": str(Path.cwd())}).encode()
                socket.send_fds(connection, [request + b"\n"], [0, out_write, err_write])
                os.close(out_write)
                os.close(err_write)
                out_write = err_write = -1
                return _collect(connection, out_read, err_read, timeout, started)
        finally:
            for fd in (out_read, err_read, out_write, err_write):
                if fd >= 0:
                    os.close(fd)

    @property
    def _socket(self) -> Path:
        assert self._folder is not None
        return self._folder / "socket"

    def close(self) -> None:
        with self._lock:
            if self._process is not None:
                assert self._process.stdin is not None and self._process.stdout is not None
                self._process.stdin.close()
                self._process.stdout.close()
                self._process.wait(30)
                self._process = None
            if self._folder is not None:
                self._socket.unlink(missing_ok=True)
                self._folder.rmdir()
                self._folder = None


def _collect(connection: socket.socket, out_read: int, err_read: int, timeout: float,
             started: Callable[[int], None]) -> tuple[int, bytes, bytes]:
    deadline = time.monotonic() + timeout
    chunks: dict[int, list[bytes]] = {out_read: [], err_read: []}
    replies = b""
    pid = None
    with selectors.DefaultSelector() as selector:
        for fd in chunks:
            selector.register(fd, selectors.EVENT_READ)
        selector.register(connection, selectors.EVENT_READ)
        while len(selector.get_map()):
            left = deadline - time.monotonic()
            if left <= 0:
                if pid is not None:
                    os.kill(pid, 9)
                raise TimeoutError(f"the command ran longer than {timeout} s")
            for key, _ in selector.select(left):
                if key.fileobj is connection:
                    data = connection.recv(4096)
                    replies += data
                    if b"\n" in replies and pid is None:
                        pid = json.loads(replies.split(b"\n", 1)[0])["pid"]
                        started(pid)
                else:
                    data = os.read(key.fd, 65536)
                    chunks[key.fd].append(data)
                if not data:
                    selector.unregister(key.fileobj)
    lines = replies.split(b"\n")
    status = json.loads(lines[1])["status"]
    return os.waitstatus_to_exitcode(status), b"".join(chunks[out_read]), b"".join(chunks[err_read])


def _serve(path: str) -> None:
    """The launcher: import once, then fork a request process per connection until stdin closes."""
    import importlib

    for module in _WARM_MODULES:
        importlib.import_module(module)
    # A thread would not survive the fork (and could hold a lock that the run then waits on forever).
    assert threading.active_count() == 1, f"an import started a thread: {threading.enumerate()}"
    # Out of the collector's sight: a run's collections (the last at its exit) would otherwise walk, and so
    # copy page by page, the whole imported heap: 0.25 s of CPU a run.
    gc.freeze()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    with selectors.DefaultSelector() as selector:
        selector.register(listener, selectors.EVENT_READ)
        selector.register(sys.stdin, selectors.EVENT_READ)
        while True:
            ready = [key.fileobj for key, _ in selector.select(1.0)]
            _reap()
            if sys.stdin in ready and not os.read(sys.stdin.fileno(), 1):
                return
            if listener in ready:
                connection, _ = listener.accept()
                if os.fork() == 0:
                    listener.close()
                    _request(connection)  # returns only in the run's process
                    return
                connection.close()


def _reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _request(connection: socket.socket) -> None:
    data, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
    while not data.endswith(b"\n"):
        data += connection.recv(1 << 20)
    request = json.loads(data)
    run = os.fork()
    if run == 0:
        connection.close()
        _become_the_run(request, fds)
        return
    for fd in fds:
        os.close(fd)
    connection.sendall(json.dumps({"pid": run}).encode() + b"\n")
    _, status = os.waitpid(run, 0)
    connection.sendall(json.dumps({"status": status}).encode() + b"\n")
    connection.close()
    os._exit(0)


def _become_the_run(request: dict[str, object], fds: list[int]) -> None:
    """Turn this process into ``python -m reconciler ARGS`` run by the test, then let __main__ end it."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(str(request["cwd"]))
    environment = request["env"]
    assert isinstance(environment, dict)
    os.environ.clear()
    os.environ.update(environment)
    time.tzset()
    args = request["args"]
    assert isinstance(args, list)
    sys.path[0] = str(Path.cwd())  # as ``python -m`` sets it
    sys.argv = ["-m", *args]
    import runpy

    runpy.run_module("reconciler", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _serve(sys.argv[1])
