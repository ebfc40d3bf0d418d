from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from reconciler.errors import InvalidOption
from reconciler.simulator import Account, FaultConfig, ListSource
from reconciler.simulator.cli import add_arguments, config_from_args, run_from_args
from reconciler.simulator.quirks import QuirkConfig

REPO = Path(__file__).resolve().parents[2]
SAMPLE_RECORDS = REPO / "sample_inputs" / "records.csv"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults() -> None:
    args = parse("--records", "records.csv")
    config = config_from_args(args)
    assert config.lists == (ListSource(path=Path("records.csv")),)
    assert config.lists[0].campaigns == ("Campaign_1",)
    assert config.users == (Account(login="demo", secret="demo-password"),)
    assert config.clients == (Account(login="demo-client", secret="demo-secret"),)
    assert (config.tenant, config.realm, config.host, config.port) == (
        "demo.brightpattern.com", "ServicePattern", "127.0.0.1", 8080)
    assert (config.nonce_lifetime, config.token_lifetime, config.faults) == (None, 3600.0, FaultConfig())
    assert args.port_file is None


def test_flags_map_to_the_config_fields() -> None:
    config = config_from_args(parse(
        "--records", "a.csv", "--records", "b.parquet", "--list", "A.txt", "--campaign", "C1", "--campaign", "C2",
        "--key-fields", "region, id", "--tenant", "acme.example.com", "--user", "ann:p:w",
        "--unprivileged-user", "bob:pw", "--client", "api:s", "--unprivileged-client", "ro:s2",
        "--nonce-lifetime", "30", "--token-lifetime", "60", "--seed", "7", "--fail-503", "0.1", "--fail-429", "0.2",
        "--retry-after", "3", "--rate-ceiling", "50", "--latency", "5", "--jitter", "2", "--reset", "0.01",
        "--html", "0.02", "--stall", "0.03", "--stall-seconds", "9", "--port", "0", "--realm", "R"))
    assert config.lists == (
        ListSource(path=Path("a.csv"), list_name="A.txt", campaigns=("C1", "C2"), key_fields=("region", "id")),
        ListSource(path=Path("b.parquet"), campaigns=("C1", "C2"), key_fields=("region", "id")),
    )
    assert config.users == (Account(login="ann", secret="p:w"), Account(login="bob", secret="pw", privileged=False))
    assert config.clients == (Account(login="api", secret="s"), Account(login="ro", secret="s2", privileged=False))
    assert (config.tenant, config.realm, config.nonce_lifetime, config.token_lifetime, config.port) == (
        "acme.example.com", "R", 30.0, 60.0, 0)
    assert config.faults == FaultConfig(seed=7, fail_503=0.1, fail_429=0.2, retry_after=3, rate_ceiling=50,
                                        latency_ms=5, jitter_ms=2, reset=0.01, html=0.02, stall=0.03,
                                        stall_seconds=9)


def test_campaign_and_quirk_flags_map_to_the_config_fields() -> None:
    config = config_from_args(parse(
        "--records", "a.csv", "--empty-campaign", "Spare", "--campaign-state", "Spare=STOPPED",
        "--campaign-state", "Campaign_1=PAUSED", "--unordered-pages", "--loose-phone-keys",
        "--changes-in-index-order"))
    assert (config.empty_campaigns, dict(config.campaign_states)) == (
        ("Spare",), {"Spare": "STOPPED", "Campaign_1": "PAUSED"})
    assert config.quirks == QuirkConfig(unordered_pages=True, loose_phone_keys=True, changes_in_index_order=True)
    defaults = config_from_args(parse("--records", "a.csv"))
    assert (defaults.quirks, defaults.empty_campaigns, dict(defaults.campaign_states)) == (QuirkConfig(), (), {})


def test_a_campaign_state_needs_name_and_state(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        parse("--records", "a.csv", "--campaign-state", "Campaign_1")
    assert caught.value.code == 2 and "is not NAME=STATE" in capsys.readouterr().err


def test_a_state_for_no_campaign_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = run_from_args(parse("--records", str(SAMPLE_RECORDS), "--port", "0", "--campaign-state", "Nope=STOPPED"))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--campaign-state: 'Nope'" in err


def test_an_account_needs_a_colon(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        parse("--records", "a.csv", "--user", "nocolon")
    assert caught.value.code == 2
    assert "is not LOGIN:SECRET" in capsys.readouterr().err


def test_more_lists_than_records_files_is_refused() -> None:
    with pytest.raises(InvalidOption, match="--list"):
        config_from_args(parse("--records", "a.csv", "--list", "A", "--list", "B"))


def test_a_bad_records_file_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_from_args(parse("--records", str(tmp_path / "absent.csv"), "--port", "0"))
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("reconciler simulator: error: ") and err.count("\n") == 1 and "absent.csv" in err


def test_bad_settings_are_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_from_args(parse("--records", "a.csv", "--fail-503", "2")) == 2
    assert "--fail-503" in capsys.readouterr().err


def test_tls_flags_map_to_the_config_and_come_in_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    config = config_from_args(parse("--records", "a.csv", "--tls-cert", "chain.pem", "--tls-key", "key.pem"))
    assert (config.tls_cert, config.tls_key) == (Path("chain.pem"), Path("key.pem"))
    assert run_from_args(parse("--records", "a.csv", "--tls-cert", "chain.pem")) == 2
    assert "--tls-cert/--tls-key: 'chain.pem/None' is not valid; expected both, or neither" in capsys.readouterr().err


def test_a_certificate_it_cannot_serve_is_one_line_and_exit_2(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    chain.write_text("not a certificate\n")
    key.write_text("not a key\n")
    code = run_from_args(parse("--records", str(SAMPLE_RECORDS), "--port", "0", "--tls-cert", str(chain),
                               "--tls-key", str(key)))
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"reconciler simulator: error: {chain}: cannot serve TLS with this certificate and the "
                          f"key {key} (") and err.count("\n") == 1


def wait_for_port(port_file: Path, process: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if port_file.exists():
            return int(port_file.read_text())
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the simulator did not write its port file")


def digest_opener(base_url: str) -> urllib.request.OpenerDirector:
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, base_url, "demo", "demo-password")
    return urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(passwords))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_python_m_serves_on_a_free_port_until_signalled(tmp_path: Path, signum: signal.Signals) -> None:
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler.simulator", "--records", str(SAMPLE_RECORDS), "--port", "0",
         "--port-file", str(port_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = wait_for_port(port_file, process)
        base_url = f"http://127.0.0.1:{port}"
        request = urllib.request.Request(
            f"{base_url}/admin/ws/t/demo.brightpattern.com/callinglist/get/records.csv/Campaign_1",
            data=b'{"account_id": "000032"}', method="POST")
        with digest_opener(base_url).open(request, timeout=10) as answer:
            assert answer.status == 200 and b'"totalAttempts":0' in answer.read()
    finally:
        process.send_signal(signum)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert out.startswith(f"reconciler simulator listening on http://127.0.0.1:{port} (")
    assert out.count("\n") == 1
    assert list(tmp_path.iterdir()) == [port_file]  # no temporary file left beside it
