"""The fleet file: what it accepts, and errors that name the file, the table and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError
from reconciler.fleet.configs import target_config, tenant_credentials
from reconciler.fleet.file import load_fleet, path_segment, render

TENANT = '[[tenants]]\ntenant = "acme.example.com"\nbase_url = "https://acme.example.com"\n'
TARGET = '[[tenants.targets]]\ncampaign = "Outbound_Q4"\nlist = "List_1.txt"\n'
DEFAULTS = ('[defaults]\ninput = "crm/{tenant}/{campaign}/{list}.csv"\n'
            'output = "out/{tenant}/{campaign}/{list}.parquet"\n')


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_settings_go_from_defaults_to_tenant_to_target_and_paths_name_the_target(tmp_path: Path) -> None:
    text = (DEFAULTS + 'key = ["account_id"]\nstrategy = "scan"\nrate = 5\n' + TENANT
            + 'dialect = "v2"\nlogin_env = "ACME_ID"\nsecret_env = "ACME_SECRET"\nconcurrency = 2\n' + TARGET
            + 'strategy = "query"\n')
    fleet = load_fleet(write(tmp_path, text))
    tenant = fleet.tenants[0]
    credentials = tenant_credentials(fleet, tenant, {"ACME_ID": "client", "ACME_SECRET": "s3cret"})
    config = target_config(fleet, tenant, tenant.targets[0], credentials)

    assert (tenant.dialect, tenant.rate, tenant.login_env) == ("v2", 5.0, "ACME_ID")
    assert config.strategy == "query" and config.key_columns == ("account_id",)
    assert config.policy.concurrency == 2 and config.policy.rate == 5.0
    assert config.input_path == Path("crm/acme.example.com/Outbound_Q4/List_1.txt.csv")
    assert config.credentials.login == "client" and config.credentials.secret == "s3cret"
    assert config.target.list_name == "List_1.txt" and config.target.dialect == "v2"


ERRORS = [
    ("no tenants", DEFAULTS, "fleet.toml: top level: key 'tenants'"),
    ("unknown top key", "paralel = 2\n" + DEFAULTS + TENANT + TARGET, "top level: key 'paralel': unknown"),
    ("bad parallel", "parallel = 0\n" + DEFAULTS + TENANT + TARGET, "key 'parallel': must be an integer from 1"),
    ("inline secret", DEFAULTS + TENANT + 'password = "x"\n' + TARGET, "tenant 'acme.example.com': key 'password': "
                                                                         "secrets are never read"),
    ("bad dialect", DEFAULTS + TENANT + 'dialect = "v4"\n' + TARGET, "tenant 'acme.example.com': key 'dialect'"),
    ("bad url", DEFAULTS + '[[tenants]]\ntenant = "a"\nbase_url = "ftp://x"\n' + TARGET, "tenant 'a': key 'base_url'"),
    ("no base url", DEFAULTS + '[[tenants]]\ntenant = "a"\n' + TARGET, "tenant 'a': key 'base_url': is required"),
    ("no targets", DEFAULTS + TENANT, "tenant 'acme.example.com': key 'targets': a tenant needs"),
    ("bad rate", DEFAULTS + TENANT + "rate = -1\n" + TARGET, "tenant 'acme.example.com': key 'rate': must be"),
    ("target without list", DEFAULTS + TENANT + '[[tenants.targets]]\ncampaign = "C"\n',
     "tenant 'acme.example.com', target 1: key 'list': is required"),
    ("bad type on a target", DEFAULTS + TENANT + TARGET + "concurrency = \"many\"\n",
     "tenant 'acme.example.com', target 'Outbound_Q4' / 'List_1.txt': key 'concurrency' must be a number"),
    ("unknown placeholder", DEFAULTS + TENANT + TARGET + 'state = "s/{campain}.state"\n',
     "target 'Outbound_Q4' / 'List_1.txt': key 'state': names the placeholder {campain}"),
    ("date in an input", DEFAULTS + TENANT + TARGET + 'input = "crm/{date}.csv"\n',
     "key 'input': names the placeholder {date}"),
    ("rate on a target", DEFAULTS + TENANT + TARGET + "rate = 5\n", "target 'Outbound_Q4' / 'List_1.txt': key 'rate': "
                                                                   "unknown here"),
    ("two targets one output", '[defaults]\ninput = "k.csv"\noutput = "out/{tenant}.parquet"\n' + TENANT + TARGET
     + '[[tenants.targets]]\ncampaign = "Other"\nlist = "List_1.txt"\n',
     "target 'Other' / 'List_1.txt': key 'output': names"),
    ("a target twice", DEFAULTS + TENANT + TARGET + TARGET, "key 'list': names this campaign and list a second time"),
    ("a tenant twice", DEFAULTS + TENANT + TARGET + TENANT + TARGET, "key 'tenant': is named twice"),
    ("discovery output without list", '[defaults]\ninput = "k.csv"\noutput = "out/{campaign}.parquet"\n' + TENANT
     + "discover = true\n", "tenant 'acme.example.com': key 'output': must hold {campaign} and {list}"),
    ("patterns without discovery", DEFAULTS + TENANT + 'states = ["RUNNING"]\n' + TARGET,
     "key 'states': is used with discover = true only"),
    ("ids in defaults", DEFAULTS + 'campaign_id = "x"\n' + TENANT + TARGET, "[defaults]: key 'campaign_id'"),
    ("not toml", "tenants = [", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "message"), [(text, message) for _, text, message in ERRORS],
                         ids=[name for name, _, _ in ERRORS])
def test_a_bad_fleet_file_is_one_error_naming_the_file_the_table_and_the_key(tmp_path: Path, text: str,
                                                                            message: str) -> None:
    with pytest.raises(ReconcilerError) as raised:
        load_fleet(write(tmp_path, text))
    assert raised.value.exit_code == 2
    assert str(tmp_path / "fleet.toml") in str(raised.value) and message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_missing_credentials_name_the_variable_and_the_key(tmp_path: Path) -> None:
    fleet = load_fleet(write(tmp_path, DEFAULTS + TENANT + 'login_env = "ACME_USER"\n' + TARGET))
    with pytest.raises(ReconcilerError, match=r"tenant 'acme\.example\.com': key 'login_env': the environment "
                                              r"variable ACME_USER is not set"):
        tenant_credentials(fleet, fleet.tenants[0], {})
    with pytest.raises(ReconcilerError, match="key 'secret_env': the environment variable BP_PASSWORD is not set"):
        tenant_credentials(fleet, fleet.tenants[0], {"ACME_USER": "demo"})


def test_a_value_only_the_run_can_check_names_the_target_and_the_key(tmp_path: Path) -> None:
    fleet = load_fleet(write(tmp_path, DEFAULTS + TENANT + TARGET + 'full_refresh_after = "soon"\n'))
    tenant = fleet.tenants[0]
    credentials = tenant_credentials(fleet, tenant, {"BP_USERNAME": "demo", "BP_PASSWORD": "pw"})
    with pytest.raises(ReconcilerError, match=r"target 'Outbound_Q4' / 'List_1.txt': key 'full_refresh_after': "
                                              r"'soon' is not valid"):
        target_config(fleet, tenant, tenant.targets[0], credentials)


@pytest.mark.parametrize(("name", "segment"), [
    ("List_1.txt", "List_1.txt"), ("Outbound Q4", "Outbound Q4"), ("a/b", "a%2Fb"), ("..", "%2E."),
    (".hidden", "%2Ehidden"), ("{date}", "%7Bdate%7D"), ("50%", "50%25"), ("Campaña", "Campaña"),
])
def test_a_name_becomes_one_safe_path_segment(name: str, segment: str) -> None:
    assert path_segment(name) == segment


def test_render_fills_the_fleet_placeholders_and_keeps_those_of_the_run(tmp_path: Path) -> None:
    fleet = load_fleet(write(tmp_path, DEFAULTS + TENANT + TARGET))
    assert render("s/{tenant}/{campaign}/run_date={date}/{list}-{run_id}.parquet", fleet.tenants[0].targets[0]) == \
        "s/acme.example.com/Outbound_Q4/run_date={date}/List_1.txt-{run_id}.parquet"
