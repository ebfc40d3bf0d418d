"""Whom a run trusts: the defaults, a CA bundle, the system's store, or nobody (--insecure)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme
import truststore

from reconciler.client.tls import trusted_certificates
from reconciler.config import RequestPolicy
from reconciler.errors import InputError


def test_the_defaults_are_aiohttps_and_insecure_verifies_nothing() -> None:
    assert trusted_certificates(RequestPolicy()) is True
    assert trusted_certificates(RequestPolicy(verify_tls=False)) is False


def test_the_system_trust_store_is_truststores() -> None:
    context = trusted_certificates(RequestPolicy(system_trust_store=True))
    assert isinstance(context, truststore.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED


def test_a_bundle_replaces_the_default_authorities(tmp_path: Path) -> None:
    authority = trustme.CA()
    bundle = tmp_path / "corp.pem"
    authority.cert_pem.write_to_path(str(bundle))
    context = trusted_certificates(RequestPolicy(ca_bundle=bundle))
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 1  # the corporate root alone, not the system's too


@pytest.mark.parametrize(("content", "problem"), [
    (None, "the CA bundle does not exist"),
    ("", "cannot use the CA bundle (no certificate in it; expected PEM"),
    ("not a certificate\n", "cannot use the CA bundle (no certificate in it; expected PEM"),
    ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
     "cannot use the CA bundle (not PEM certificates"),
    ("folder", "cannot read the CA bundle (Is a directory)"),
])
def test_an_unusable_bundle_is_an_input_error_naming_it(tmp_path: Path, content: str | None, problem: str) -> None:
    bundle = tmp_path / "corp.pem"
    if content == "folder":
        bundle.mkdir()
    elif content is not None:
        bundle.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as raised:
        trusted_certificates(RequestPolicy(ca_bundle=bundle))
    assert str(raised.value).startswith(f"{bundle}: {problem}")
    assert str(raised.value).endswith("check --ca-bundle (or SSL_CERT_FILE, which stands in for it)")
    assert raised.value.exit_code == 2
