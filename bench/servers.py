"""The servers the benchmarks talk to, each on 127.0.0.1 and stopped when its block ends.

- ``nginx_server``: nginx answering every POST with one canned query answer (no auth, no digest):
  a fixed-answer server far cheaper than any Python client, so that the client is what is measured.
- ``simulator_server``: the bundled simulator in its own process (so that it does not share the
  client's interpreter), with digest auth, latency and counters at ``/__stats``.
- ``delay_server``: ``bench/delay_server.py`` in its own process, the canned answer exactly a given
  latency after each request arrived (no auth), with the simulator's ``/__stats`` counters.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import ROOT
from bench.tools import ensure_nginx

TENANT = "bench.brightpattern.com"
LIST_NAME = "records"
CAMPAIGN = "Campaign_1"
LOGIN, PASSWORD = "bench", "bench-password"
KEY_COLUMN = "account_id"
START_TIMEOUT = 30.0

# What a real "Query a record" answer looks like: a dozen entry and status fields.
CANNED_ANSWER = {
    "entry": {"account_id": "000048", "firstName": "Bjorn", "lastName": "Smith, Jr.", "phone": "12125554013",
              "city": "Dublin"},
    "status": {"completed": False, "lastDisposition": "No answer", "lastDate": "2021-02-01T20:54:07.000",
               "lastPhone": "14155552727", "lastCallDuration": 0, "lastAgent": "maria", "totalAttempts": 4,
               "globalInteractionID": "B7DA16BF-15CF-4545-8F25-3EBE960675B5"},
}


@dataclass(frozen=True)
class Server:
    """A running server: where to send queries, and what it is."""

    base_url: str
    description: str
    process: subprocess.Popen[bytes]

    def stats(self) -> dict[str, Any]:
        """The simulator's counters (``GET /__stats``)."""
        with urllib.request.urlopen(f"{self.base_url}/__stats", timeout=10) as answer:
            return dict(json.load(answer))

    def reset_stats(self) -> None:
        request = urllib.request.Request(f"{self.base_url}/__stats/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by the server's processes (its process group: nginx's master and worker)."""
        return group_cpu_seconds(self.process.pid)


def group_cpu_seconds(group: int) -> float:
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        if int(fields[2]) == group:  # fields after the name: state, ppid, pgrp, ..., utime (12th), stime (13th)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def query_url(base_url: str) -> str:
    """The classic dialect's "Query a record" URL, as reconciler builds it."""
    return f"{base_url}/admin/ws/t/{TENANT}/callinglist/get/{LIST_NAME}/{CAMPAIGN}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _nginx_config(folder: Path, port: int) -> str:
    body = json.dumps(CANNED_ANSWER, separators=(",", ":"))
    assert "'" not in body and "$" not in body and "\\" not in body  # nginx would read them as syntax
    temp_paths = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in
                           ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""
worker_processes 1;
daemon off;
pid {folder / 'nginx.pid'};
error_log {folder / 'error.log'} warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
{temp_paths}
    server {{
        listen 127.0.0.1:{port};
        default_type application/json;
        location / {{ return 200 '{body}'; }}
    }}
}}
"""


@contextmanager
def nginx_server() -> Iterator[Server]:
    """nginx on 127.0.0.1:<free port>, one worker, answering every request 200 with ``CANNED_ANSWER``."""
    binary = ensure_nginx()
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as name:
        folder = Path(name)
        port = free_port()
        config = folder / "nginx.conf"
        config.write_text(_nginx_config(folder, port), encoding="utf-8")
        command = [binary, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(config)]
        with _running(command, port, folder / "error.log") as process:
            version = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False).stderr.strip()
            yield Server(f"http://127.0.0.1:{port}", f"{version}, 1 worker, canned 200 JSON answer", process)


@contextmanager
def simulator_server(records: Path, *, latency_ms: float = 0.0, extra: Sequence[str] = ()) -> Iterator[Server]:
    """The bundled simulator serving ``records`` as list ``records`` in ``Campaign_1``, with digest auth."""
    args = ["--records", str(records), "--list", LIST_NAME, "--campaign", CAMPAIGN, "--key-fields", KEY_COLUMN,
            "--tenant", TENANT, "--user", f"{LOGIN}:{PASSWORD}", "--latency", str(latency_ms),
            "--host", "127.0.0.1", *extra]
    with _python_server("reconciler.simulator", args, "reconciler simulator (own process), digest auth, "
                        f"latency {latency_ms:g} ms") as server:
        yield server


@contextmanager
def delay_server(latency_ms: float) -> Iterator[Server]:
    """``bench.delay_server``: every query answered with ``CANNED_ANSWER`` ``latency_ms`` after it arrived."""
    with _python_server("bench.delay_server", ["--latency", str(latency_ms)], "bench/delay_server.py "
                        f"(own process, asyncio), no auth, latency {latency_ms:g} ms") as server:
        yield server


@contextmanager
def _python_server(module: str, args: Sequence[str], description: str) -> Iterator[Server]:
    """``python -m module *args --port <free port>`` in a process of its own, its log in a temporary folder."""
    port = free_port()
    command = [sys.executable, "-m", module, *args, "--port", str(port)]
    with tempfile.TemporaryDirectory(prefix="bench-server-") as name, \
            _running(command, port, Path(name) / "server.log") as process:
        yield Server(f"http://127.0.0.1:{port}", description, process)


@contextmanager
def _running(command: list[str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command`` in its own process group, wait until ``port`` listens, always stop it afterwards."""
    with log.open("ab") as output:
        process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_listening(process, port, log)
        yield process
    finally:
        _stop(process)


def _wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{command_name(process)} exited with code {process.returncode}: {detail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{command_name(process)} did not listen on 127.0.0.1:{port} within {START_TIMEOUT:g} s")


def command_name(process: subprocess.Popen[bytes]) -> str:
    return Path(str(process.args[0])).name  # type: ignore[index]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (nginx: fast shutdown; simulator: graceful), then SIGKILL to its process group if it lingers.

    The group holds only what this process started (nginx's worker, for one), so nothing is left behind.
    """
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the group id is the leader's pid (start_new_session)
    if process.poll() is None:
        process.wait(timeout=10)
