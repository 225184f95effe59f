"""The Microsoft identity platform's part: OpenID discovery and the client credentials token.

Written from "OpenID Connect on the Microsoft identity platform"
(https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc), "Microsoft identity
platform and the OAuth 2.0 client credentials flow"
(https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow),
"Microsoft identity platform application authentication certificate credentials"
(https://learn.microsoft.com/entra/identity-platform/certificate-credentials) and the AADSTS
error code reference (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
Access tokens are opaque random strings: the doc tells clients never to read them, so a client
that does fails here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

GRAPH_RESOURCE = "https://graph.microsoft.com"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# OpenID scopes MSAL may add; they name no resource, so they are not counted against the
# "one resource, ending in /.default" rule.
RESERVED_SCOPES = {"openid", "profile", "offline_access"}


@dataclass
class App:
    """A registered application: its id, its secrets and its certificates (DER)."""

    client_id: str
    secrets: list[str] = field(default_factory=list)
    certificates: list[bytes] = field(default_factory=list)


@dataclass
class IssuedToken:
    token: str
    client_id: str
    tenant_id: str
    expires_at: float
    scope: str


@dataclass
class TokenRequest:
    """One call of the token endpoint, kept so a test can count what a client asked for."""

    client_id: str
    grant_type: str
    credential: str
    status: int
    at: float


class TokenError(Exception):
    """An answer of the token endpoint other than a token: status and the documented JSON."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.code = code
        self.description = description

    def body(self) -> dict[str, Any]:
        trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return {
            "error": self.error,
            "error_description": (
                f"AADSTS{self.code}: {self.description}\r\nTrace ID: {trace_id}\r\n"
                f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}"
            ),
            "error_codes": [self.code],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }


class Identity:
    """Tenants, registered apps and the tokens issued to them."""

    def __init__(self, tenant_id: str, token_lifetime: int = 3599) -> None:
        self.tenant_id = tenant_id
        # Tenants may be named by GUID or by a domain name (doc: "{tenant}"); both map here.
        self.tenant_names = {tenant_id.lower()}
        self.token_lifetime = token_lifetime
        self.apps: dict[str, App] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.token_requests: list[TokenRequest] = []
        self.lock = threading.Lock()
        # Graph's application ID URI in the global cloud; a national cloud's Graph has its own
        # (https://graph.microsoft.us, ...), and so has this stand-in: its own origin.
        self.resources = {GRAPH_RESOURCE}

    # -- registration -----------------------------------------------------------------------

    def register_app(
        self,
        client_id: str | None = None,
        *,
        secret: str | None = None,
        certificate_pem: bytes | None = None,
    ) -> App:
        app = self.apps.get(client_id or "") or App(client_id or str(uuid.uuid4()))
        if secret is not None:
            app.secrets.append(secret)
        if certificate_pem is not None:
            certificate = x509.load_pem_x509_certificate(certificate_pem)
            app.certificates.append(certificate.public_bytes(serialization.Encoding.DER))
        self.apps[app.client_id] = app
        return app

    def knows_tenant(self, tenant: str) -> bool:
        return tenant.lower() in self.tenant_names

    # -- discovery --------------------------------------------------------------------------

    def openid_configuration(self, base_url: str, tenant: str) -> dict[str, Any]:
        """The provider metadata, every endpoint pointing at this stand-in.

        Fields as the OIDC page's sample and OpenID Connect Discovery 1.0 section 3 list them.
        """
        authority = f"{base_url}/{self.tenant_id}"
        return {
            "token_endpoint": f"{base_url}/{tenant}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base_url}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{authority}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{base_url}/oidc/userinfo",
            "authorization_endpoint": f"{base_url}/{tenant}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base_url}/{tenant}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base_url}/{tenant}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver"],
            "kerberos_endpoint": f"{base_url}/{tenant}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }

    # -- token endpoint ---------------------------------------------------------------------

    def token(
        self, form: dict[str, str], basic: tuple[str, str] | None, tenant: str, endpoint: str
    ) -> dict[str, Any]:
        """Answer a client credentials request or raise ``TokenError``; every call is counted."""
        client_id = form.get("client_id") or (basic[0] if basic else "")
        grant_type = form.get("grant_type", "")
        credential = (
            "certificate"
            if "client_assertion" in form
            else "secret"
            if basic or "client_secret" in form
            else ""
        )
        status = 200
        try:
            return self._token(form, basic, tenant, endpoint, client_id, grant_type)
        except TokenError as error:
            status = error.status
            raise
        finally:
            with self.lock:
                self.token_requests.append(
                    TokenRequest(client_id, grant_type, credential, status, time.time())
                )

    def _token(
        self,
        form: dict[str, str],
        basic: tuple[str, str] | None,
        tenant: str,
        endpoint: str,
        client_id: str,
        grant_type: str,
    ) -> dict[str, Any]:
        if not self.knows_tenant(tenant):
            raise TokenError(
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud.",
            )
        for name in ("grant_type", "scope"):
            if not form.get(name):
                raise TokenError(
                    400,
                    "invalid_request",
                    900144,
                    f"The request body must contain the following parameter: '{name}'.",
                )
        if not client_id:
            raise TokenError(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            )
        if grant_type != "client_credentials":
            raise TokenError(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        app = self.apps.get(client_id)
        if app is None:
            raise TokenError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant}'. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant.",
            )
        self._authenticate(app, form, basic, endpoint)
        scope = self._resource_scope(form["scope"])
        token = IssuedToken(
            token=secrets.token_urlsafe(48),
            client_id=client_id,
            tenant_id=self.tenant_id,
            expires_at=time.time() + self.token_lifetime,
            scope=scope,
        )
        with self.lock:
            self.tokens[token.token] = token
        return {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": token.token,
        }

    def _authenticate(
        self, app: App, form: dict[str, str], basic: tuple[str, str] | None, endpoint: str
    ) -> None:
        secret = form.get("client_secret") or (basic[1] if basic else None)
        assertion = form.get("client_assertion")
        if secret is not None and assertion is not None:
            raise TokenError(
                400,
                "invalid_request",
                90023,
                "Only one of 'client_secret' and 'client_assertion' may be presented.",
            )
        if assertion is not None:
            if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
                raise TokenError(
                    400,
                    "invalid_request",
                    900144,
                    f"The 'client_assertion_type' must be '{CLIENT_ASSERTION_TYPE}'.",
                )
            self._verify_assertion(app, assertion, endpoint)
            return
        if secret is None:
            raise TokenError(
                401,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the "
                "'client_credentials' grant type.",
            )
        if not any(hmac.compare_digest(secret, known) for known in app.secrets):
            raise TokenError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{app.client_id}'.",
            )

    def _verify_assertion(self, app: App, assertion: str, endpoint: str) -> None:
        """Check the JWT as the certificate credentials page describes it.

        Header ``x5t#S256`` (SHA-256) or ``x5t`` (SHA-1, RFC 7515 section 4.1.7) names the
        registered certificate; the signature (PS256 or RS256) must verify with its key;
        ``aud`` is the token endpoint, ``iss`` and ``sub`` the client id, ``exp`` in the future.
        """
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as error:
            raise TokenError(
                401, "invalid_client", 50027, f"JWT token is invalid or malformed. {error}"
            ) from error
        certificate = self._certificate_for(app, header)
        key = x509.load_der_x509_certificate(certificate).public_key()
        try:
            claims = jwt.decode(
                assertion,
                key=key,  # type: ignore[arg-type]
                algorithms=["PS256", "RS256"],
                audience=endpoint,
                issuer=app.client_id,
                options={"require": ["aud", "iss", "sub", "exp"]},
                leeway=60,
            )
        except jwt.InvalidSignatureError as error:
            raise TokenError(
                401, "invalid_client", 700027, "Client assertion failed signature validation."
            ) from error
        except jwt.ExpiredSignatureError as error:
            raise TokenError(
                401,
                "invalid_client",
                700024,
                "Client assertion is not within its valid time range.",
            ) from error
        except jwt.InvalidAudienceError as error:
            raise TokenError(
                401,
                "invalid_client",
                50013,
                f"Assertion audience does not match the token endpoint '{endpoint}'.",
            ) from error
        except jwt.PyJWTError as error:
            raise TokenError(
                401, "invalid_client", 50013, f"Assertion is invalid: {error}"
            ) from error
        if claims.get("sub") != app.client_id:
            raise TokenError(
                401,
                "invalid_client",
                50013,
                "The 'sub' claim of the client assertion must be the client id.",
            )

    def _certificate_for(self, app: App, header: dict[str, Any]) -> bytes:
        # RFC 7515 base64url has no padding; some clients pad anyway, so compare without it.
        sha256 = str(header.get("x5t#S256") or "").rstrip("=")
        sha1 = str(header.get("x5t") or "").rstrip("=")
        for certificate in app.certificates:
            if sha256 and sha256 == _thumbprint(certificate, hashlib.sha256):
                return certificate
            if sha1 and sha1 == _thumbprint(certificate, hashlib.sha1):
                return certificate
        raise TokenError(
            401,
            "invalid_client",
            700027,
            "Client assertion failed signature validation. The certificate with identifier "
            "used to sign the client assertion is not registered on application.",
        )

    def _resource_scope(self, scope: str) -> str:
        named = [part for part in scope.split() if part.lower() not in RESERVED_SCOPES]
        if len(named) != 1 or not named[0].endswith("/.default"):
            raise TokenError(
                400,
                "invalid_scope",
                70011,
                "The provided value for the input parameter 'scope' is not valid. The scope "
                f"{scope} is not valid. The client credentials flow takes one resource's "
                "'/.default' scope.",
            )
        return named[0]

    # -- checks for the resource ------------------------------------------------------------

    def check(self, token: str) -> IssuedToken | str:
        """The issued token, or the reason it is refused (the message Graph gives)."""
        with self.lock:
            issued = self.tokens.get(token)
        if issued is None:
            return "CompactToken parsing failed with error code: 80049217"
        if issued.expires_at <= time.time():
            return "Lifetime validation failed, the token is expired."
        if issued.scope.rstrip("/").removesuffix("/.default") not in self.resources:
            return "Access token validation failure. Invalid audience."
        return issued

    def revoke_all(self) -> None:
        """Forget every issued token, as if each had expired."""
        with self.lock:
            self.tokens.clear()

    def expire_all(self) -> None:
        with self.lock:
            for issued in self.tokens.values():
                issued.expires_at = 0


def _thumbprint(der: bytes, algorithm: Any) -> str:
    return base64.urlsafe_b64encode(algorithm(der).digest()).rstrip(b"=").decode()


@dataclass(frozen=True)
class ClientCertificate:
    """A self-signed certificate an app can register, with its key and SHA-1 thumbprint."""

    private_key_pem: bytes
    certificate_pem: bytes
    sha1_thumbprint: str  # hex, as MSAL's ``thumbprint`` takes it


def make_client_certificate(common_name: str = "approvals-test-app") -> ClientCertificate:
    """A fresh RSA 2048 key and a self-signed certificate valid for a day."""
    from datetime import timedelta

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    moment = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - timedelta(minutes=5))
        .not_valid_after(moment + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return ClientCertificate(
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM),
        sha1_thumbprint=certificate.fingerprint(hashes.SHA1()).hex(),
    )
