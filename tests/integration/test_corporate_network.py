"""A corporate network: the server's certificate comes from a private CA, and the way out is a forward proxy.

The simulator serves HTTPS with a certificate of a CA this test makes (trustme); Debian's tinyproxy,
started here on 127.0.0.1, is the proxy. The real command runs in a subprocess, as a user runs it.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
import trustme
from conftest import (
    CLIENT_SECRET,
    PASSWORD,
    SAMPLES,
    Finished,
    SimulatorFactory,
    credentials,
    run_args,
    run_cli,
    said,
    wait_until,
)

from reconciler.simulator import RunningSimulator

pytestmark = pytest.mark.anyio
# tinyproxy takes letters, digits, ".", "_" and "-" in a BasicAuth password
PROXY_USER, PROXY_PASSWORD = "night-operator", "px-Vb7.distinctive_proxy-4410"
KEYS = SAMPLES / "keys.csv"


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the CA's certificate: what --ca-bundle names
    chain: Path  # the simulator's certificate (for 127.0.0.1) and its key
    key: Path


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    folder = tmp_path_factory.mktemp("tls")
    authority = trustme.CA(organization_name="Example Corp internal CA")
    issued = authority.issue_cert("127.0.0.1")
    made = Certificates(folder / "corp-ca.pem", folder / "server-chain.pem", folder / "server-key.pem")
    authority.cert_pem.write_to_path(str(made.ca))
    issued.private_key_pem.write_to_path(str(made.key))
    made.chain.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    return made


@dataclass(frozen=True)
class Proxy:
    port: int
    log: Path

    def url(self, *, user: str | None = None, password: str | None = None) -> str:
        userinfo = f"{user}:{password}@" if user is not None else ""
        return f"http://{userinfo}127.0.0.1:{self.port}"

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def connects(self) -> list[str]:
        """The CONNECT requests the proxy logged (``Request (file descriptor 7): CONNECT host:port HTTP/1.1``)."""
        return [line for line in self.text().splitlines() if "Request (" in line and "): CONNECT " in line]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


@asynccontextmanager
async def tinyproxy(folder: Path, connect_port: int, *, basic_auth: tuple[str, str] | None = None
                    ) -> AsyncIterator[Proxy]:
    """Debian's tinyproxy in the foreground on 127.0.0.1, allowing CONNECT to ``connect_port`` only."""
    binary = shutil.which("tinyproxy")
    if binary is None:
        pytest.fail("tinyproxy is needed for the corporate-network tests: apt-get install tinyproxy (.ci/run does)")
    proxy = Proxy(_free_port(), folder / "tinyproxy.log")
    lines = ["Listen 127.0.0.1", f"Port {proxy.port}", "Allow 127.0.0.1", f"ConnectPort {connect_port}",
             f'LogFile "{proxy.log}"', "LogLevel Info", "Timeout 30", "MaxClients 50"]
    if basic_auth is not None:
        lines.append(f"BasicAuth {basic_auth[0]} {basic_auth[1]}")
    config = folder / "tinyproxy.conf"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    process = await anyio.open_process([binary, "-d", "-c", str(config)], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_until(lambda: _accepts(proxy.port) or process.returncode is not None, within=10,
                         what="tinyproxy to listen")
        assert process.returncode is None, f"tinyproxy exited: {proxy.text() if proxy.log.exists() else ''}"
        yield proxy
    finally:
        if process.returncode is None:
            process.terminate()
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(5):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()
            await process.aclose()


@asynccontextmanager
async def tls_simulator(simulator: SimulatorFactory, certificates: Certificates) -> AsyncIterator[RunningSimulator]:
    async with simulator(tls_cert=certificates.chain, tls_key=certificates.key) as sim:
        assert sim.base_url.startswith("https://127.0.0.1:")
        yield sim


def secrets_shown(*texts: str) -> list[str]:
    """The secrets of these tests that appear in any of ``texts``, in clear or as Basic auth."""
    basic = base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
    return [secret for secret in (PASSWORD, CLIENT_SECRET, PROXY_PASSWORD, basic) if any(secret in t for t in texts)]


def scan_args(sim: RunningSimulator, tmp_path: Path, *extra: str, dialect: str = "classic") -> list[str]:
    return run_args(sim.base_url, KEYS, tmp_path / "status.parquet", "--strategy", "scan", "--rate", "inf",
                    "--report", str(tmp_path / "report.json"), *extra, dialect=dialect)


def report(tmp_path: Path) -> tuple[str, dict[str, object]]:
    text = (tmp_path / "report.json").read_text(encoding="utf-8")
    return text, json.loads(text)


async def test_through_an_authenticating_proxy_with_a_ca_bundle(tmp_path: Path, simulator: SimulatorFactory,
                                                                certificates: Certificates) -> None:
    async with tls_simulator(simulator, certificates) as sim, \
            tinyproxy(tmp_path, sim.port, basic_auth=(PROXY_USER, PROXY_PASSWORD)) as proxy:
        done = await run_cli(scan_args(sim, tmp_path, "--ca-bundle", str(certificates.ca), "-v"),
                             {**credentials(), "HTTPS_PROXY": proxy.url(user=PROXY_USER, password=PROXY_PASSWORD)})
        counters = sim.stats()
        connects, proxy_log = proxy.connects(), proxy.text()

    assert done.code == 0, done.stderr
    assert counters["requests_total"] >= 2  # the getAll pages reached the server ...
    assert connects and all(f"CONNECT 127.0.0.1:{sim.port} " in line for line in connects)  # ... through the proxy
    assert f"requests go through the proxy http://***@127.0.0.1:{proxy.port}" in done.stderr
    text, written = report(tmp_path)
    configuration = written["configuration"]
    assert isinstance(configuration, dict)
    assert configuration["proxy"] == f"http://***@127.0.0.1:{proxy.port}"
    assert configuration["ca_bundle"] == str(certificates.ca)
    assert secrets_shown(done.stderr, text, proxy_log) == []
    assert PROXY_USER not in done.stderr + text


async def test_ssl_cert_file_stands_in_for_the_ca_bundle(tmp_path: Path, simulator: SimulatorFactory,
                                                         certificates: Certificates) -> None:
    async with tls_simulator(simulator, certificates) as sim, tinyproxy(tmp_path, sim.port) as proxy:
        done = await run_cli(scan_args(sim, tmp_path, dialect="v2"),
                             {**credentials("v2"), "SSL_CERT_FILE": str(certificates.ca), "HTTPS_PROXY": proxy.url()})
        connects, proxy_log = proxy.connects(), proxy.text()

    assert done.code == 0, done.stderr
    assert any(f"CONNECT 127.0.0.1:{sim.port} " in line for line in connects)
    text, written = report(tmp_path)
    assert written["configuration"]["ca_bundle"] == str(certificates.ca)  # type: ignore[index]
    assert secrets_shown(done.stderr, text, proxy_log) == []


async def test_without_the_ca_bundle_the_certificate_is_rejected(tmp_path: Path, simulator: SimulatorFactory,
                                                                 certificates: Certificates) -> None:
    async with tls_simulator(simulator, certificates) as sim, tinyproxy(tmp_path, sim.port) as proxy:
        done = await run_cli(scan_args(sim, tmp_path), {**credentials(), "HTTPS_PROXY": proxy.url()})
        counters = sim.stats()
        connects = proxy.connects()

    assert done.code == 3, done.stderr
    lines = said(done.stderr)
    assert len(lines) == 1 and lines[0].startswith(f"reconciler: error: the TLS certificate of {sim.base_url} was "
                                                   "rejected (")
    assert "certificate verify failed" in lines[0] and "--ca-bundle PATH" in lines[0]
    assert connects  # the tunnel was opened; the TLS handshake inside it failed
    assert counters["requests_total"] == 0
    assert not (tmp_path / "status.parquet").exists()


async def test_no_proxy_goes_around_the_proxy(tmp_path: Path, simulator: SimulatorFactory,
                                              certificates: Certificates) -> None:
    async with tls_simulator(simulator, certificates) as sim, tinyproxy(tmp_path, sim.port) as proxy:
        done = await run_cli(scan_args(sim, tmp_path, "--ca-bundle", str(certificates.ca)),
                             {**credentials(), "HTTPS_PROXY": proxy.url(), "NO_PROXY": "localhost,127.0.0.1"})
        counters = sim.stats()
        connects, proxy_log = proxy.connects(), proxy.text()

    assert done.code == 0, done.stderr
    assert counters["requests_total"] >= 2
    assert connects == [] and "Request (" not in proxy_log
    assert report(tmp_path)[1]["configuration"]["proxy"] is None  # type: ignore[index]


async def test_a_wrong_proxy_password_stops_the_run_without_showing_it(tmp_path: Path, simulator: SimulatorFactory,
                                                                       certificates: Certificates) -> None:
    async with tls_simulator(simulator, certificates) as sim, \
            tinyproxy(tmp_path, sim.port, basic_auth=(PROXY_USER, "the-right-one")) as proxy:
        done = await run_cli(scan_args(sim, tmp_path, "--ca-bundle", str(certificates.ca)),
                             {**credentials(), "HTTPS_PROXY": proxy.url(user=PROXY_USER, password=PROXY_PASSWORD)})
        counters, proxy_log = sim.stats(), proxy.text()

    assert done.code == 3, done.stderr
    # tinyproxy answers a CONNECT with wrong credentials 401 (most proxies: 407, worded the same way)
    assert said(done.stderr) == [f"reconciler: error: the proxy http://127.0.0.1:{proxy.port} refused to reach "
                                 f"127.0.0.1:{sim.port} (HTTP 401 Unauthorized); set the proxy's user "
                                 "and password in HTTPS_PROXY or HTTP_PROXY (http://USER:PASSWORD@host:port), or "
                                 "check them"]
    assert not done.stderr.strip().splitlines()[-1].startswith("20")  # the error comes last, after any progress
    assert counters["requests_total"] == 0
    text, written = report(tmp_path)
    assert written["exit_code"] == 3
    assert secrets_shown(done.stderr, text, proxy_log) == []


@pytest.mark.parametrize("how", ["flag, missing file", "SSL_CERT_FILE, not PEM", "config file, a folder"])
async def test_an_unusable_ca_bundle_is_one_line_exit_2_and_nothing_is_sent(
        tmp_path: Path, simulator: SimulatorFactory, certificates: Certificates, how: str) -> None:
    missing, not_pem = tmp_path / "nowhere" / "ca.pem", tmp_path / "ca.pem"
    not_pem.write_text("this is not a certificate\n", encoding="utf-8")
    config = tmp_path / "job.toml"
    config.write_text(f'ca-bundle = "{tmp_path}"\n', encoding="utf-8")
    extra, environment, path, problem = {
        "flag, missing file": (("--ca-bundle", str(missing)), {}, missing, "the CA bundle does not exist"),
        "SSL_CERT_FILE, not PEM": ((), {"SSL_CERT_FILE": str(not_pem)}, not_pem,
                                   "cannot use the CA bundle (no certificate in it; expected PEM"),
        "config file, a folder": (("--config", str(config)), {}, tmp_path,
                                  "cannot read the CA bundle (Is a directory)"),
    }[how]
    async with tls_simulator(simulator, certificates) as sim, tinyproxy(tmp_path, sim.port) as proxy:
        done = await run_cli(scan_args(sim, tmp_path, *extra),
                             {**credentials(), "HTTPS_PROXY": proxy.url(), **environment})
        counters, connects = sim.stats(), proxy.connects()

    assert done.code == 2, done.stderr
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"reconciler: error: {path}: {problem}")
    assert "check --ca-bundle (or SSL_CERT_FILE" in done.stderr
    assert counters["requests_total"] == 0 and connects == []
    assert not (tmp_path / "status.parquet").exists()
    assert not (tmp_path / "status.parquet.reconciler-journal").exists()


async def test_insecure_still_reaches_a_server_it_cannot_verify(tmp_path: Path, simulator: SimulatorFactory,
                                                                certificates: Certificates) -> None:
    async with tls_simulator(simulator, certificates) as sim, tinyproxy(tmp_path, sim.port) as proxy:
        done = await run_cli(scan_args(sim, tmp_path, "--insecure"),
                             {**credentials(), "HTTPS_PROXY": proxy.url(), "SSL_CERT_FILE": str(tmp_path / "none")})
        connects = proxy.connects()
    assert done.code == 0, done.stderr
    assert "TLS certificates are NOT verified (--insecure)" in done.stderr
    assert connects  # SSL_CERT_FILE is not read at all under --insecure; the proxy still is


async def test_the_system_trust_store_does_not_hold_a_private_ca(tmp_path: Path, simulator: SimulatorFactory,
                                                                 certificates: Certificates) -> None:
    async with tls_simulator(simulator, certificates) as sim:
        done: Finished = await run_cli(scan_args(sim, tmp_path, "--system-trust-store"), credentials())
        counters = sim.stats()
    assert done.code == 3, done.stderr
    assert f"the TLS certificate of {sim.base_url} was rejected" in done.stderr
    assert counters["requests_total"] == 0


async def test_a_dry_run_checks_the_server_through_the_proxy_and_says_so(tmp_path: Path, simulator: SimulatorFactory,
                                                                        certificates: Certificates) -> None:
    async with tls_simulator(simulator, certificates) as sim, \
            tinyproxy(tmp_path, sim.port, basic_auth=(PROXY_USER, PROXY_PASSWORD)) as proxy:
        done = await run_cli(scan_args(sim, tmp_path, "--dry-run", "--ca-bundle", str(certificates.ca)),
                             {**credentials(), "HTTPS_PROXY": proxy.url(user=PROXY_USER, password=PROXY_PASSWORD)})
        connects, proxy_log = proxy.connects(), proxy.text()
    assert done.code == 0, done.stderr
    assert (f"  network          through the proxy http://***@127.0.0.1:{proxy.port}; certificates verified with "
            f"the CA bundle {certificates.ca}\n") in done.stderr
    assert "credentials, list and campaign checked" in done.stderr and connects
    assert secrets_shown(done.stderr, proxy_log) == []
