"""The proxy and the trust a run uses, as the settings loader reads them from flags, the file and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config import RequestPolicy
from reconciler.errors import InvalidOption
from reconciler.wiring.network import proxy_for

from .test_settings import ENV, config, error

PROXY = "http://proxy.corp.example:3128"


@pytest.mark.parametrize(("base_url", "environ", "expected"), [
    ("https://bp.example.com", {}, None),
    ("https://bp.example.com", {"HTTPS_PROXY": PROXY}, PROXY),
    ("https://bp.example.com", {"https_proxy": PROXY, "HTTPS_PROXY": "http://other:1"}, PROXY),  # lower case wins
    ("https://bp.example.com", {"https_proxy": " ", "HTTPS_PROXY": PROXY}, PROXY),  # a blank one is unset
    ("https://bp.example.com", {"HTTP_PROXY": PROXY}, None),  # the scheme's own variable only
    ("http://bp.example.com", {"HTTP_PROXY": PROXY, "HTTPS_PROXY": "http://other:1"}, PROXY),
    ("https://bp.example.com", {"HTTPS_PROXY": "proxy.corp.example:3128"}, PROXY),  # no scheme: http://
    ("https://bp.example.com", {"HTTPS_PROXY": "http://u:p%40ss@proxy:3128"}, "http://u:p%40ss@proxy:3128"),
    ("https://bp.example.com", {"HTTPS_PROXY": PROXY, "NO_PROXY": "bp.example.com"}, None),
    ("https://bp.example.com", {"HTTPS_PROXY": PROXY, "NO_PROXY": "localhost, .example.com"}, None),
    ("https://bp.example.com", {"HTTPS_PROXY": PROXY, "NO_PROXY": "example.com"}, None),  # a suffix, dot or not
    ("https://bp.example.com", {"HTTPS_PROXY": PROXY, "NO_PROXY": "*.example.com"}, None),
    ("https://bp.example.com", {"HTTPS_PROXY": PROXY, "NO_PROXY": "*"}, None),
    ("https://bp.example.com", {"HTTPS_PROXY": PROXY, "NO_PROXY": "BP.EXAMPLE.COM"}, None),
    ("https://bp.example.com", {"HTTPS_PROXY": PROXY, "NO_PROXY": "bp.example.com:443"}, None),
    ("https://bp.example.com", {"HTTPS_PROXY": PROXY, "NO_PROXY": "bp.example.com:8443"}, PROXY),  # other port
    ("https://bp.example.com", {"HTTPS_PROXY": PROXY, "NO_PROXY": "xbp.example.com,example.org"}, PROXY),
    ("https://bp.example.com", {"HTTPS_PROXY": PROXY, "no_proxy": "", "NO_PROXY": "bp.example.com"}, None),
    ("https://127.0.0.1:8443", {"HTTPS_PROXY": PROXY, "NO_PROXY": "127.0.0.1"}, None),
    ("https://127.0.0.1:8443", {"HTTPS_PROXY": PROXY, "NO_PROXY": "127.0.0.2"}, PROXY),
    ("https://[::1]:8443", {"HTTPS_PROXY": PROXY, "NO_PROXY": "::1"}, None),
    ("https://[::1]:8443", {"HTTPS_PROXY": PROXY, "NO_PROXY": "[::1]:8443"}, None),
])
def test_the_proxy_for_the_base_url(base_url: str, environ: dict[str, str], expected: str | None) -> None:
    assert proxy_for(base_url, environ) == expected


@pytest.mark.parametrize(("value", "shown"), [
    ("socks5://u:hunter3-proxy@proxy:1080", "'socks5://***@proxy:1080'"),
    ("http://u:hunter3-proxy@proxy", "'http://***@proxy'"),  # no port: tools disagree on the default
    ("http://proxy:3128/path", "'http://proxy:3128/path'"),
    ("http://u:hunter3-proxy@:3128", "'<not a URL>'"),  # what cannot be parsed cannot be shown without its password
])
def test_a_proxy_that_cannot_be_used_is_named_by_its_variable_without_its_password(value: str, shown: str) -> None:
    message = error("--base-url", "https://bp.example.com", environ={**ENV, "HTTPS_PROXY": value})
    assert message.startswith(f"HTTPS_PROXY: {shown} is not valid; expected an http:// URL with a host and a port")
    assert "hunter3-proxy" not in message


def test_the_library_face_checks_a_proxy_too_without_showing_its_password() -> None:
    with pytest.raises(InvalidOption) as raised:
        RequestPolicy(proxy="ftp://svc:hunter3-proxy@proxy:21")
    assert str(raised.value).startswith("proxy: 'ftp://***@proxy' is not valid")
    assert "hunter3-proxy" not in repr(RequestPolicy(proxy="http://svc:hunter3-proxy@proxy:3128"))


def test_the_config_holds_the_proxy_the_environment_names() -> None:
    built = config("--base-url", "https://bp.example.com", environ={**ENV, "https_proxy": PROXY})
    assert built.policy.proxy == PROXY
    assert config("--base-url", "https://bp.example.com", environ={**ENV, "HTTPS_PROXY": PROXY,
                                                                    "NO_PROXY": ".example.com"}).policy.proxy is None


@pytest.mark.parametrize(("argv", "file", "environ", "expected"), [
    ((), {}, {}, None),
    ((), {}, {"SSL_CERT_FILE": "/etc/ssl/machine.pem"}, Path("/etc/ssl/machine.pem")),
    (("--ca-bundle", "corp.pem"), {}, {"SSL_CERT_FILE": "/etc/ssl/machine.pem"}, Path("corp.pem")),
    ((), {"ca_bundle": "job.pem"}, {"SSL_CERT_FILE": "/etc/ssl/machine.pem"}, Path("job.pem")),  # the job's own
    (("--ca-bundle", "corp.pem"), {"ca_bundle": "job.pem"}, {}, Path("corp.pem")),
    (("--insecure",), {}, {"SSL_CERT_FILE": "/etc/ssl/machine.pem"}, None),  # nothing is verified: not read
    (("--system-trust-store",), {}, {"SSL_CERT_FILE": "/etc/ssl/machine.pem"}, None),
])
def test_which_ca_bundle_a_run_trusts(argv: tuple[str, ...], file: dict[str, str], environ: dict[str, str],
                                      expected: Path | None) -> None:
    assert config(*argv, file=file, environ={**ENV, **environ}).policy.ca_bundle == expected


@pytest.mark.parametrize(("argv", "expected"), [
    (("--ca-bundle", "corp.pem", "--system-trust-store"),
     "--ca-bundle: 'corp.pem' is not valid; expected not together with --system-trust-store"),
    (("--insecure", "--ca-bundle", "corp.pem"),
     "--insecure: True is not valid; expected not together with --ca-bundle"),
    (("--insecure", "--system-trust-store"),
     "--insecure: True is not valid; expected not together with --system-trust-store"),
])
def test_trust_settings_that_contradict_each_other(argv: tuple[str, ...], expected: str) -> None:
    assert error(*argv).startswith(expected)


def test_the_trust_settings_may_live_in_the_config_file() -> None:
    built = config(file={"system_trust_store": True})
    assert (built.policy.system_trust_store, built.policy.ca_bundle, built.policy.verify_tls) == (True, None, True)
