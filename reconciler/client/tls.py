"""Whom a run trusts: OpenSSL's default certificate authorities, a CA bundle, or the operating system's store.

``trusted_certificates`` is called twice: by the pipeline's checks before anything is sent (so
that an unreadable bundle is exit 2 with nothing sent), and by the session factory for its connector.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from reconciler.config import RequestPolicy
from reconciler.errors import InputError

_HINT = "check --ca-bundle (or SSL_CERT_FILE, which stands in for it)"


def trusted_certificates(policy: RequestPolicy) -> ssl.SSLContext | bool:
    """The ``ssl`` argument of aiohttp's connector: False (``--insecure``), True (the defaults) or a context."""
    if not policy.verify_tls:
        return False
    if policy.system_trust_store:
        # On Windows and macOS the platform verifies (the keychain, the Windows store, their policies);
        # on Linux truststore uses the system's CA files through OpenSSL.
        import truststore

        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if policy.ca_bundle is None:
        return True  # aiohttp's default context: OpenSSL's default paths (on Linux, the system's CA files)
    return _bundle_context(policy.ca_bundle)


def _bundle_context(path: Path) -> ssl.SSLContext:
    # Instead of the defaults, as curl's --cacert and requests' verify=PATH: a bundle names every
    # authority to trust (a corporate root, and the public ones too where NO_PROXY skips the proxy).
    try:
        return ssl.create_default_context(cafile=path)
    except ssl.SSLError as exc:  # before OSError: SSLError is one
        why = "no certificate in it" if exc.reason == "NO_CERTIFICATE_OR_CRL_FOUND" else "not PEM certificates"
        raise InputError(path, f"cannot use the CA bundle ({why}; expected PEM, -----BEGIN CERTIFICATE-----); "
                               f"{_HINT}") from None
    except FileNotFoundError:
        raise InputError(path, f"the CA bundle does not exist; {_HINT}") from None
    except OSError as exc:
        raise InputError(path, f"cannot read the CA bundle ({exc.strerror or exc}); {_HINT}") from None
