"""OpenID Connect through mozilla-django-oidc, configured per organization at run time.

mozilla-django-oidc reads its configuration from settings through `get_settings`; the
subclasses here answer from the organization's `SsoConnection` instead, so one
deployment serves any number of identity providers. The library does the protocol:
the authorization request (state, nonce, PKCE), the code exchange, the ID token's
signature against the provider's JWKS, and userinfo. We add what it leaves out: the
ID token's issuer and audience are checked, and the person is handed to
`sso.sso_sign_in`, which decides membership and seats.

Every outgoing HTTP call to a provider is in this module (discovery, token, JWKS,
userinfo).
"""

from urllib.parse import urlsplit

import jwt
import requests
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationRequestView

from organizations.errors import RuleViolation

from ..models import SsoConnection
from .crypto import decrypt

CALLBACK_URL_NAME = "identity_sso_callback"
TIMEOUT_SECONDS = 10
# Algorithms we accept for ID tokens, most preferred first (RS256 is the one every
# provider must support, OpenID Connect Discovery 1.0 §3).
SUPPORTED_ALGORITHMS = ("RS256", "ES256", "RS384", "RS512", "ES384", "ES512")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class DiscoveryFailed(RuleViolation):
    code = "oidc_discovery_failed"


def normalize_issuer(issuer: str) -> str:
    return (issuer or "").strip().rstrip("/")


def discovery_fetch(*, issuer: str) -> dict:
    """The provider's discovery document, checked for what sign-in needs.

    Plain http is accepted only for a provider on this machine (development, tests).
    """
    issuer = normalize_issuer(issuer)
    parts = urlsplit(issuer)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        raise DiscoveryFailed("The issuer must be an https:// address.", field="issuer")
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise DiscoveryFailed(f"Could not read {url}: {exc}", field="issuer") from None
    if normalize_issuer(document.get("issuer", "")) != issuer:
        raise DiscoveryFailed(
            f"{url} names the issuer {document.get('issuer')!r}, not {issuer!r}.", field="issuer"
        )
    missing = [
        key
        for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")
        if not document.get(key)
    ]
    if missing:
        raise DiscoveryFailed(f"{url} lacks {', '.join(missing)}.", field="issuer")
    offered = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithm = next((alg for alg in SUPPORTED_ALGORITHMS if alg in offered), None)
    if algorithm is None:
        raise DiscoveryFailed(
            f"The provider signs ID tokens with {', '.join(offered)}; "
            f"we accept {', '.join(SUPPORTED_ALGORITHMS)}.",
            field="issuer",
        )
    return {
        "issuer": issuer,
        "authorization_endpoint": document["authorization_endpoint"],
        "token_endpoint": document["token_endpoint"],
        "userinfo_endpoint": document["userinfo_endpoint"],
        "jwks_uri": document["jwks_uri"],
        "signing_algorithm": algorithm,
    }


def _connection_settings(connection: SsoConnection) -> dict:
    return {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": connection.authorization_endpoint,
        "OIDC_OP_TOKEN_ENDPOINT": connection.token_endpoint,
        "OIDC_OP_USER_ENDPOINT": connection.userinfo_endpoint,
        "OIDC_OP_JWKS_ENDPOINT": connection.jwks_uri,
        "OIDC_RP_CLIENT_ID": connection.client_id,
        "OIDC_RP_CLIENT_SECRET": decrypt(connection.client_secret_encrypted),
        "OIDC_RP_SIGN_ALGO": connection.signing_algorithm,
        "OIDC_RP_SCOPES": "openid email profile",
        "OIDC_USE_NONCE": True,
        "OIDC_USE_PKCE": True,
        "OIDC_TIMEOUT": TIMEOUT_SECONDS,
        "OIDC_AUTHENTICATION_CALLBACK_URL": CALLBACK_URL_NAME,
        "OIDC_CREATE_USER": False,
    }


class _PerConnectionSettings:
    """`get_settings` answered from the connection first, then from Django settings."""

    connection_settings: dict

    def get_settings(self, attr, *args):
        if attr in self.connection_settings:
            return self.connection_settings[attr]
        return import_from_settings(attr, *args)


class OrganizationAuthenticationRequest(_PerConnectionSettings, OIDCAuthenticationRequestView):
    """The redirect to the organization's provider (state, nonce and PKCE verifier in the session)."""

    def __init__(self, connection: SsoConnection):
        # The library's __init__ reads settings before anything names the provider.
        self.connection_settings = _connection_settings(connection)
        self.OIDC_OP_AUTH_ENDPOINT = connection.authorization_endpoint
        self.OIDC_RP_CLIENT_ID = connection.client_id

    def get_extra_params(self, request):
        return {}


class OrganizationOIDCBackend(_PerConnectionSettings, OIDCAuthenticationBackend):
    """Exchanges the code and verifies the ID token with the organization's provider.

    `sign_in(claims)` decides who the person is; it may raise RuleViolation (refused),
    which `authenticate` lets through to the view so it can say why.
    """

    def __init__(self, connection: SsoConnection, sign_in):
        self.connection = connection
        self.connection_settings = _connection_settings(connection)
        self.sign_in = sign_in
        super().__init__()

    def verify_token(self, token, **kwargs):
        """The library checks the signature, expiry and nonce; we add issuer and audience."""
        payload = super().verify_token(token, **kwargs)
        if normalize_issuer(str(payload.get("iss", ""))) != normalize_issuer(self.connection.issuer):
            raise SuspiciousOperation("ID token from another issuer.")
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.connection.client_id not in audiences:
            raise SuspiciousOperation("ID token for another client.")
        return payload

    def retrieve_matching_jwk(self, token):
        """The library matches keys by `kid`; OpenID Connect Core 1.0 §10.1 lets a provider
        with a single signing key leave `kid` out, so then that one key is used."""
        if "kid" in jwt.get_unverified_header(token):
            return super().retrieve_matching_jwk(token)
        response = requests.get(self.OIDC_OP_JWKS_ENDPOINT, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        keys = [
            key
            for key in response.json().get("keys", [])
            if key.get("use", "sig") == "sig"
            and key.get("alg", self.OIDC_RP_SIGN_ALGO) == self.OIDC_RP_SIGN_ALGO
        ]
        if len(keys) != 1:
            raise SuspiciousOperation("The ID token names no key and the provider has several.")
        return jwt.PyJWK(keys[0])

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload.get("sub"):
            # OpenID Connect Core 1.0 §5.3.2: the userinfo sub MUST match the ID token's.
            raise SuspiciousOperation("Userinfo is about another subject.")
        return self.sign_in({**payload, **userinfo})

    def authenticate(self, request, **kwargs):
        self.request = request
        return super().authenticate(request, **kwargs)
