"""The app's token for Graph: client credentials (a secret or a certificate) through msal.

One :class:`Credentials` per worker process holds msal's token cache, so a process asks the
token endpoint once and again only shortly before the token expires. Outside Microsoft's own
authorities (a sovereign cloud's stand-in, the tests) msal's instance discovery is off, so
msal makes exactly two requests: the OpenID configuration and the token.
"""

from __future__ import annotations

import ssl
import threading
from pathlib import Path
from urllib.parse import urlsplit

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from approvals.config import Settings


class TokenError(Exception):
    """The token endpoint refused us (wrong secret, unknown app, ...): a configuration problem."""


def trusted_cas(settings: Settings) -> str | bool:
    """The CA file for both the token and Graph: ``APPROVALS_GRAPH_CA_BUNDLE`` or the system's.

    Given explicitly so that ``REQUESTS_CA_BUNDLE`` and friends in the environment never win.
    """
    if settings.graph_ca_bundle is not None:
        return str(settings.graph_ca_bundle)
    return ssl.get_default_verify_paths().cafile or True


def scope(settings: Settings) -> str:
    """``<origin of the API URL>/.default``: the app's granted permissions on that cloud."""
    parts = urlsplit(settings.graph_api_url)
    return f"{parts.scheme}://{parts.netloc}/.default"


def _credential(settings: Settings) -> str | dict[str, str]:
    if settings.graph_certificate_path is None:
        return settings.graph_client_secret
    return _certificate_credential(settings.graph_certificate_path)


def _certificate_credential(path: Path) -> dict[str, str]:
    """A PEM holding the key and its certificate; msal computes the thumbprint from the latter."""
    pem = path.read_text()
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise TokenError(f"{path}: no PEM certificate in it ({exc})") from None
    if "PRIVATE KEY-----" not in pem:
        raise TokenError(f"{path}: no private key in it")
    public = certificate.public_bytes(Encoding.PEM).decode()
    return {"private_key": pem, "public_certificate": public}


class _Session(requests.Session):
    """msal's HTTP client: trusts our CA file only, and reads no proxy or CA from the env."""

    def __init__(self, verify: str | bool) -> None:
        super().__init__()
        self.trust_env = False
        self.verify = verify


class Credentials:
    """The app's token for Graph, cached by msal until shortly before it expires."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.scope = scope(settings)
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    def _application(self) -> msal.ConfidentialClientApplication:
        with self._lock:
            if self._app is None:
                s = self.settings
                host = urlsplit(s.graph_authority_url).hostname or ""
                self._app = msal.ConfidentialClientApplication(
                    s.graph_client_id,
                    client_credential=_credential(s),
                    authority=f"{s.graph_authority_url}/{s.graph_tenant_id}",
                    http_client=_Session(trusted_cas(s)),
                    timeout=s.graph_timeout,
                    instance_discovery=host in msal.authority.WELL_KNOWN_AUTHORITY_HOSTS,
                )
            return self._app

    def token(self) -> str:
        """A valid access token (msal answers from its cache while the token is fresh)."""
        try:
            result = self._application().acquire_token_for_client(scopes=[self.scope])
        except (requests.RequestException, ValueError) as exc:
            with self._lock:
                self._app = None  # discovery failed: try again from scratch next time
            raise TokenError(f"could not reach the token endpoint: {exc}") from None
        if "access_token" not in result:
            error = result.get("error", "error")
            description = str(result.get("error_description", "")).splitlines()[0:1]
            raise TokenError(f"the token endpoint refused us: {error} {' '.join(description)}")
        return str(result["access_token"])

    def forget(self, token: str) -> None:
        """Drop ``token`` from the cache (Graph said 401 with it)."""
        app = self._app
        if app is None:
            return
        cache = app.token_cache
        stale = [
            item
            for item in cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)
            if item.get("secret") == token
        ]
        for item in stale:
            cache.remove_at(item)
