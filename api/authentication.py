"""The two ways into the API: a person's session, or the organization's API key (Bearer).

`api.base.ApiView` accepts both (usage ingestion takes keys only); `ApiView.bind` turns either
into the request's organization, and checks a key's scope (`api.scopes`).
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from core import clock
from organizations import throttling
from organizations.credentials import CredentialRefused, credential_authenticate
from organizations.models import Credential
from organizations.tenancy import KeyActor

REFUSALS = {
    "unknown": "Unknown API key.",
    "revoked": "This API key was revoked; ask an owner for a new one.",
}


class TooManyFailedKeys(throttling.Throttled):
    """Too many unknown or revoked keys from one address: 429 with Retry-After."""

    code = "too_many_failed_keys"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer sbk_…`: unknown or revoked keys get 401; too many of them from
    one address, 429 with Retry-After (organizations.throttling counts failures only, so a
    valid key never waits for the cache)."""

    keyword = "Bearer"

    def authenticate(self, request):
        api_key, problem = self.key_from(request)
        if problem:
            try:
                throttling.credential_failed(request)
            except throttling.Throttled as exc:
                raise TooManyFailedKeys(retry_after=exc.retry_after, message=exc.message) from None
            raise exceptions.AuthenticationFailed(problem)
        return None if api_key is None else (KeyActor(api_key), api_key)

    @classmethod
    def key_from(cls, request) -> tuple[Credential | None, str]:
        """(key, "") for a usable key, its use recorded; (None, why) when refused; (None, "")
        without a Bearer header."""
        secret, problem = cls.secret_from(request)
        if secret is None:
            return None, problem
        try:
            return credential_authenticate(kind=Credential.Kind.API_KEY, secret=secret, at=clock.now()), ""
        except CredentialRefused as refused:
            return None, REFUSALS[refused.code]

    @classmethod
    def secret_from(cls, request) -> tuple[str | None, str]:
        """(secret, "") from the Authorization header; (None, why) when malformed, (None, "") without one."""
        header = request.META.get("HTTP_AUTHORIZATION", "").split()
        if not header or header[0] != cls.keyword:
            return None, ""
        if len(header) != 2:
            return None, "Send the API key as 'Authorization: Bearer <key>'."
        return header[1], ""

    def authenticate_header(self, request):
        return self.keyword


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An organization's API key (sbk_…)."}
