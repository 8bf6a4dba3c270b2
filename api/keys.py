"""The organization's API keys over the API: list, create (the secret is in that answer only),
revoke.

Owners in their session (MANAGE_API_KEYS, as on the API keys page), or a key with `keys:read`
/ `keys:write`: a key makes keys only with scopes it holds itself
(`organizations.credentials.credential_create`), so no key ever makes a stronger one.
Creating a key takes no `Idempotency-Key`: the answer carries the secret, which is never
stored (only its SHA-256 is); a retried request makes a second key, and the one whose answer
was lost is revoked from the list.
"""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from api.base import ApiView, InputRefused, error_responses
from core import clock
from organizations import credentials
from organizations.errors import RuleViolation
from organizations.models import Credential, Scope
from organizations.tenancy import Capability

TAGS = ["api keys"]
API_KEY = Credential.Kind.API_KEY


class ApiKeySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The start of the secret, to tell keys apart.")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices), source="scope_list")
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="To the minute; null: never used.")
    revoked_at = serializers.DateTimeField(allow_null=True, help_text="Null: active.")


class ApiKeyListCreateApi(ApiView):
    capability = Capability.MANAGE_API_KEYS
    scope = {"GET": Scope.KEYS_READ, "POST": Scope.KEYS_WRITE}

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100, help_text="Where it is used, e.g. Production backend.")
        scopes = serializers.ListField(
            child=serializers.ChoiceField(choices=Scope.choices),
            help_text="At least one; a key creating a key: only scopes it holds itself.",
        )

    class OutputSerializer(ApiKeySerializer):
        secret = serializers.CharField(help_text="The whole key, in this answer only: store it now.")

    @extend_schema(
        operation_id="api_keys_list",
        summary="The organization's API keys, newest first",
        description=(
            "Every API key with its scopes, when it was made and last used, and whether it was revoked; "
            "never a secret. People: owners."
        ),
        responses={200: ApiKeySerializer(many=True), **error_responses()},
        tags=TAGS,
    )
    def get(self, request, organization_id: int):
        keys = credentials.credential_list(organization=self.organization, kind=API_KEY)
        return Response(ApiKeySerializer(keys, many=True).data)

    @extend_schema(
        operation_id="api_keys_create",
        summary="Create an API key with its scopes (its secret is shown once)",
        description=(
            "The answer carries the whole key (`secret`) once: only its SHA-256 is stored. 400 "
            "`scopes_required` without a scope, `invalid_scopes` for an unknown one; a key creating a "
            "key gets 409 `scope_not_grantable` for a scope it does not hold. No Idempotency-Key (the "
            "secret is never stored): a retry makes a second key. People: owners."
        ),
        request=InputSerializer,
        responses={201: OutputSerializer, **error_responses(400, 409)},
        tags=TAGS,
    )
    def post(self, request, organization_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            key, secret = credentials.credential_create(
                organization=self.organization,
                kind=API_KEY,
                at=clock.now(),
                acting_user=request.user,
                **data.validated_data,
            )
        except RuleViolation as exc:
            if exc.field in ("name", "scopes") and exc.code != "scope_not_grantable":
                raise InputRefused(exc.message, code=exc.code, field=exc.field) from exc
            raise
        key.secret = secret
        return Response(self.OutputSerializer(key).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(ApiView):
    capability = Capability.MANAGE_API_KEYS
    scope = Scope.KEYS_WRITE

    @extend_schema(
        operation_id="api_keys_revoke",
        summary="Revoke an API key",
        description=(
            "Requests with it get 401 from now on. Revoking a revoked key changes nothing; another "
            "organization's key is 404. People: owners."
        ),
        responses={200: ApiKeySerializer, **error_responses()},
        tags=TAGS,
    )
    def delete(self, request, organization_id: int, key_id: int):
        try:
            key = credentials.credential_revoke(
                organization=self.organization,
                kind=API_KEY,
                credential_id=key_id,
                at=clock.now(),
                acting_user=request.user,
            )
        except RuleViolation as exc:
            raise Http404("No such API key.") from exc
        return Response(ApiKeySerializer(key).data)
