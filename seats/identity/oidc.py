"""OpenID Connect through mozilla-django-oidc, configured per organization at run time.

mozilla-django-oidc reads its configuration from settings through `get_settings`; the
subclasses here answer from the organization's `SsoConnection` instead, so one
deployment serves any number of identity providers. The library does the protocol:
the authorization request (state, nonce, PKCE), the code exchange, the ID token's
signature, and userinfo. We add what it leaves out: the ID token's issuer and audience
are checked, and the person is handed to `sso.sso_sign_in`, which decides who may sign in.

Every request to a provider (discovery, token, JWKS, userinfo) goes through
`core.outbound.fetch`, on the issuer's own origin: the backend's methods that would
call `requests` directly are overridden here.
"""

import logging

import jwt
from django.core.exceptions import SuspiciousOperation
from django.utils.translation import gettext as _
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationRequestView

from core import outbound
from organizations.errors import RuleViolation

from ..models import SsoConnection
from .crypto import decrypt

log = logging.getLogger(__name__)

CALLBACK_URL_NAME = "identity_sso_callback"
# Algorithms we accept for ID tokens, most preferred first (RS256 is the one every
# provider must support, OpenID Connect Discovery 1.0 §3).
SUPPORTED_ALGORITHMS = ("RS256", "ES256", "RS384", "RS512", "ES384", "ES512")
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")


class DiscoveryFailed(RuleViolation):
    code = "oidc_discovery_failed"


def normalize_issuer(issuer: str) -> str:
    return (issuer or "").strip().rstrip("/")


def unreachable_message(issuer: str) -> str:
    """What people read when a provider could not be reached: no port, status or body of ours
    or theirs (the details are in the server log)."""
    return _("Could not reach your identity provider at %(issuer)s; check the address.") % {"issuer": issuer}


def discovery_fetch(*, issuer: str) -> dict:
    """The provider's discovery document, checked for what sign-in needs.

    Every endpoint must be on the issuer's own origin (scheme, host and port): we send the
    client secret to the token endpoint and trust the keys of the JWKS, so a document may
    not point them anywhere else.
    """
    issuer = normalize_issuer(issuer)
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        document = outbound.fetch_ok("GET", url, origin=issuer).json()
    except outbound.OutboundError as exc:
        log.warning("OIDC discovery of %r failed: %s", issuer, exc)
        raise DiscoveryFailed(unreachable_message(issuer), field="issuer") from None
    if not isinstance(document, dict):
        raise DiscoveryFailed(
            _("The discovery document of %(issuer)s is not a JSON object.") % {"issuer": issuer},
            field="issuer",
        )
    if normalize_issuer(str(document.get("issuer", ""))) != issuer:
        raise DiscoveryFailed(
            _(
                "The discovery document of %(issuer)s names another issuer. Enter the issuer exactly as your "
                "provider states it."
            )
            % {"issuer": issuer},
            field="issuer",
        )
    missing = [key for key in ENDPOINTS if not isinstance(document.get(key), str) or not document.get(key)]
    if missing:
        raise DiscoveryFailed(
            _("The discovery document of %(issuer)s lacks %(keys)s.")
            % {"issuer": issuer, "keys": ", ".join(missing)},
            field="issuer",
        )
    elsewhere = [key for key in ENDPOINTS if not outbound.same_origin(document[key], issuer)]
    if elsewhere:
        raise DiscoveryFailed(
            _(
                "The discovery document of %(issuer)s points %(keys)s to another host. We only call the "
                "issuer's own host (same scheme, host and port)."
            )
            % {"issuer": issuer, "keys": ", ".join(elsewhere)},
            field="issuer",
        )
    offered = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    offered = [str(alg) for alg in offered] if isinstance(offered, list) else ["RS256"]
    algorithm = next((alg for alg in SUPPORTED_ALGORITHMS if alg in offered), None)
    if algorithm is None:
        raise DiscoveryFailed(
            _("Your provider signs ID tokens with none of the algorithms we accept (%(accepted)s).")
            % {"accepted": ", ".join(SUPPORTED_ALGORITHMS)},
            field="issuer",
        )
    return {
        "issuer": issuer,
        **{key: document[key] for key in ENDPOINTS},
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


class ProviderUnreachable(RuleViolation):
    """A request to the provider was refused by the guarded fetcher or failed."""

    code = "sso_provider_unreachable"


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

    def _fetch(self, method: str, url: str, **kwargs) -> outbound.Response:
        """Every request of the code flow: on the issuer's origin, through the guarded fetcher."""
        try:
            return outbound.fetch_ok(method, url, origin=self.connection.issuer, **kwargs)
        except outbound.OutboundError as exc:
            log.warning(
                "OIDC %s %s for organization %s failed: %s", method, url, self.connection.organization_id, exc
            )
            raise ProviderUnreachable(unreachable_message(self.connection.issuer)) from None

    def _json_object(self, response: outbound.Response, what: str) -> dict:
        document = response.json()
        if not isinstance(document, dict):
            raise SuspiciousOperation(f"The provider's {what} is not a JSON object.")
        return document

    def get_token(self, payload):
        return self._json_object(
            self._fetch("POST", self.OIDC_OP_TOKEN_ENDPOINT, form=payload), "token answer"
        )

    def get_userinfo(self, access_token, id_token, payload):
        response = self._fetch(
            "GET", self.OIDC_OP_USER_ENDPOINT, headers={"Authorization": f"Bearer {access_token}"}
        )
        if response.content_type.lower().startswith("application/jwt"):
            return self.verify_token(response.text)  # userinfo may come as a signed JWT
        return self._json_object(response, "userinfo")

    def retrieve_matching_jwk(self, token):
        """The key that signed `token`: matched by `kid` and algorithm; OpenID Connect Core 1.0
        §10.1 lets a provider with a single signing key leave `kid` out, so then that one key."""
        jwks = self._json_object(self._fetch("GET", self.OIDC_OP_JWKS_ENDPOINT), "JWKS")
        header = jwt.get_unverified_header(token)
        keys = [
            key
            for key in (jwks.get("keys") if isinstance(jwks.get("keys"), list) else [])
            if isinstance(key, dict)
            and key.get("use", "sig") == "sig"
            and key.get("alg", header.get("alg")) == header.get("alg")
        ]
        if "kid" in header:
            keys = [key for key in keys if key.get("kid") == header["kid"]]
        if len(keys) != 1:
            raise SuspiciousOperation("No single key of the provider's JWKS matches the ID token.")
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
