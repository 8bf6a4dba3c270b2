"""The usage API: ingestion for the SaaS's machine client, entitlements and statistics.

Authentication: `Authorization: Bearer <api key>` (a key belongs to one organization), or a
logged-in member's session for the organization-scoped reads. A key used on another
organization's URL gets 404, as a non-member would.
"""

import datetime as dt

import orjson
from django.http import Http404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import authentication, exceptions, parsers, renderers, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core import clock
from organizations import throttling
from organizations.errors import RuleViolation
from organizations.tenancy import Capability, require, resolve_membership
from usage import domain as D
from usage import selectors
from usage.models import ApiKey
from usage.services import api_key_hash, api_key_touch, usage_record_batch


class ApiKeyClient:
    """request.user for a request authenticated with an API key: the SaaS's machine client."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.organization = api_key.organization

    def __str__(self) -> str:
        return f"API key {self.api_key.prefix}"


class TooManyFailedKeys(exceptions.APIException):
    """429 in the usage API's error shape; DRF's handler sends `wait` as Retry-After."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_failed_keys"

    def __init__(self, throttled: throttling.Throttled):
        super().__init__({"code": self.default_code, "detail": throttled.message})
        self.wait = throttled.retry_after


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
                raise TooManyFailedKeys(exc) from None
            raise exceptions.AuthenticationFailed(problem)
        return None if api_key is None else (ApiKeyClient(api_key), api_key)

    @classmethod
    def key_from(cls, request) -> tuple[ApiKey | None, str]:
        """(key, "") for a usable key, (None, why) when refused, (None, "") without a Bearer header."""
        secret, problem = cls.secret_from(request)
        if secret is None:
            return None, problem
        return cls.usable(selectors.api_key_by_hash(secret_hash=api_key_hash(secret)))

    @classmethod
    def secret_from(cls, request) -> tuple[str | None, str]:
        """(secret, "") from the Authorization header; (None, why) when malformed, (None, "") without one."""
        header = request.META.get("HTTP_AUTHORIZATION", "").split()
        if not header or header[0] != cls.keyword:
            return None, ""
        if len(header) != 2:
            return None, "Send the API key as 'Authorization: Bearer <key>'."
        return header[1], ""

    @staticmethod
    def usable(api_key: ApiKey | None) -> tuple[ApiKey | None, str]:
        """(key, "") when the key may be used, its use recorded; (None, why) when not."""
        if api_key is None:
            return None, "Unknown API key."
        if api_key.revoked_at is not None:
            return None, "This API key was revoked; ask an owner for a new one."
        api_key_touch(api_key=api_key, at=clock.now())
        return api_key, ""

    def authenticate_header(self, request):
        return self.keyword


class HasApiKey(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, ApiKey)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api.usage.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An organization's API key (sbk_…)."}


# Ingestion -----------------------------------------------------------------------------------


class BatchJSONParser(parsers.JSONParser):
    """JSON read by orjson: a 1,000-event body parses in half the standard library's time."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return orjson.loads(stream.read())
        except orjson.JSONDecodeError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc


class BatchJSONRenderer(renderers.JSONRenderer):
    """JSON written by orjson: the answer holds a result per event, up to 1,000."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return orjson.dumps(data, default=str)  # default: lazy translations in error details


class UsageEventsRecordApi(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]
    parser_classes = [BatchJSONParser]
    renderer_classes = [BatchJSONRenderer]

    class EventSerializer(serializers.Serializer):
        event_id = serializers.CharField(
            max_length=D.MAX_EVENT_ID_LENGTH, help_text="Chosen by you; counted once."
        )
        meter = serializers.ChoiceField(choices=list(D.REPORTED_METERS))
        quantity = serializers.IntegerField(
            help_text="Tokens (> 0), or +n created / -n deleted documents, agents."
        )
        timestamp = serializers.DateTimeField(help_text="ISO 8601 with a time zone.")
        dimensions = inline_serializer(
            "UsageEventDimensions",
            {"model": serializers.CharField(required=False), "action": serializers.CharField(required=False)},
            required=False,
        )

    class InputSerializer(serializers.Serializer):
        events = serializers.ListField(max_length=D.MAX_BATCH)

    class ResultSerializer(serializers.Serializer):
        index = serializers.IntegerField()
        event_id = serializers.CharField()
        status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
        duplicate = serializers.BooleanField()
        code = serializers.CharField(required=False)
        message = serializers.CharField(required=False)

    class OutputSerializer(serializers.Serializer):
        accepted = serializers.IntegerField()
        duplicates = serializers.IntegerField()
        rejected = serializers.IntegerField()
        results = serializers.ListField(child=serializers.DictField())

    @extend_schema(
        operation_id="usage_events_record",
        summary="Report usage events (up to 1,000 a request)",
        description=(
            "Each event: `event_id` (yours; the same id is counted once, forever), `meter` "
            "(ai_tokens, documents, agents), `quantity`, `timestamp` (ISO 8601, not before the previous "
            "billing period, at most 5 minutes ahead), `dimensions` {`model`, `action`}. Bad events are "
            "rejected one by one with index, code and message; the good ones are kept. Usage is never "
            "refused for a limit: ask the entitlements endpoint before using more."
        ),
        request=inline_serializer(
            "UsageEventsRecordInput",
            {"events": serializers.ListField(child=EventSerializer(), max_length=D.MAX_BATCH)},
        ),
        responses={
            200: OutputSerializer,
            400: OpenApiTypes.OBJECT,
            401: OpenApiTypes.OBJECT,
            429: OpenApiTypes.OBJECT,
        },
        tags=["usage"],
    )
    def post(self, request):
        events = request.data.get("events") if isinstance(request.data, dict) else None
        if not isinstance(events, list):
            return Response(
                {"code": "invalid_body", "detail": 'Send a JSON object: {"events": [ ... ]}.'},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            results = usage_record_batch(
                organization=request.auth.organization, events=events, at=clock.now()
            )
        except RuleViolation as exc:
            return Response({"code": exc.code, "detail": exc.message}, status=status.HTTP_400_BAD_REQUEST)
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        rows = []
        for index, event_id, result_status, code, message in results:  # up to 1,000: plain tuples
            counts[result_status] += 1
            row = {
                "index": index,
                "event_id": event_id,
                "status": result_status,
                "duplicate": result_status == "duplicate",
            }
            if code:
                row["code"], row["message"] = code, message
            rows.append(row)
        return Response(
            {
                "accepted": counts["accepted"],
                "duplicates": counts["duplicate"],
                "rejected": counts["rejected"],
                "results": rows,
            }
        )


# Organization-scoped reads -------------------------------------------------------------------


class OrganizationUsageApi(APIView):
    """Base for `/api/v1/organizations/<organization_id>/…`: binds request.organization once.

    An API key must belong to the URL's organization (otherwise 404); a session user must be
    an active member (404 otherwise, 403 without the capability).
    """

    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    capability = Capability.VIEW

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        organization_id = kwargs["organization_id"]
        if isinstance(request.auth, ApiKey):
            if request.auth.organization_id != organization_id:
                raise Http404("No such organization.")
            request.organization = request.auth.organization
            return
        membership = resolve_membership(request.user, organization_id=organization_id)
        require(membership, self.capability)
        request.organization = membership.organization
        request.membership = membership

    def on(self, request):
        return organization_today(request.organization)


class EntitlementSerializer(serializers.Serializer):
    meter = serializers.CharField()
    limit = serializers.IntegerField(allow_null=True, help_text="Null: unlimited.")
    used = serializers.IntegerField()
    remaining = serializers.IntegerField(allow_null=True)
    quantity = serializers.IntegerField(help_text="How much more was asked about.")
    allowed = serializers.BooleanField(help_text="May `quantity` more be used now?")
    hard = serializers.BooleanField(
        help_text="Hard limit: refused at the limit. Soft: allowed, overage flagged."
    )
    overage = serializers.IntegerField(help_text="Recorded usage beyond the limit.")
    would_exceed = serializers.BooleanField(help_text="Using `quantity` more would pass the limit.")
    resets_on = serializers.DateField(allow_null=True, help_text="Start of the next period; null: a count.")
    payment_blocked = serializers.BooleanField(
        help_text="An unpaid invoice was given up on: nothing more is allowed until it is paid."
    )


def entitlement_data(item: selectors.Entitlement) -> dict:
    return {
        "meter": item.meter,
        "limit": item.limit,
        "used": item.used,
        "remaining": item.remaining,
        "quantity": item.quantity,
        "allowed": item.allowed,
        "hard": item.hard,
        "overage": item.overage,
        "would_exceed": item.limit is not None and item.used + item.quantity > item.limit,
        "resets_on": item.resets_on.isoformat() if item.resets_on else None,
        "payment_blocked": item.payment_blocked,
    }


ORGANIZATION_ID = OpenApiParameter("organization_id", int, OpenApiParameter.PATH)


class EntitlementListApi(OrganizationUsageApi):
    @extend_schema(
        operation_id="entitlements_list",
        summary="Limits and usage of every meter",
        parameters=[ORGANIZATION_ID],
        responses={
            200: inline_serializer("EntitlementList", {"entitlements": EntitlementSerializer(many=True)})
        },
        tags=["usage"],
    )
    def get(self, request, organization_id: int):
        items = selectors.entitlements_all(organization=request.organization, on=self.on(request))
        return Response({"entitlements": [entitlement_data(item) for item in items]})


class EntitlementDetailApi(OrganizationUsageApi):
    @extend_schema(
        operation_id="entitlements_check",
        summary="May the organization use N more of a meter?",
        description="Served from the rollups in one short query (seats: from the team's seats).",
        parameters=[
            ORGANIZATION_ID,
            OpenApiParameter("meter", str, OpenApiParameter.PATH, enum=list(D.ALL_METERS)),
            OpenApiParameter("quantity", int, OpenApiParameter.QUERY, description="Default 1."),
        ],
        responses={200: EntitlementSerializer, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
        tags=["usage"],
    )
    def get(self, request, organization_id: int, meter: str):
        if meter not in D.ALL_METERS:
            raise Http404(f"No meter {meter!r}; meters are {', '.join(D.ALL_METERS)}.")
        quantity = asked_quantity(request.query_params.get("quantity", "1"))
        if quantity is None:
            return Response(
                {"code": "invalid_quantity", "detail": "quantity must be a whole number, 0 or more."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        item = selectors.entitlement(
            organization=request.organization, meter=meter, quantity=quantity, on=self.on(request)
        )
        return Response(entitlement_data(item))


def asked_quantity(raw: str) -> int | None:
    """The `quantity` query parameter, or None when it is not a whole number in range."""
    try:
        quantity = int(raw)
    except ValueError:
        return None
    return quantity if 0 <= quantity <= D.MAX_QUANTITY else None


def organization_today(organization) -> dt.date:
    return clock.today_in(organization.time_zone)


class UsageOverviewApi(OrganizationUsageApi):
    @extend_schema(
        operation_id="usage_overview",
        summary="The overview's usage card: four meters and the overall percent",
        parameters=[ORGANIZATION_ID],
        responses={200: OpenApiTypes.OBJECT},
        tags=["usage"],
    )
    def get(self, request, organization_id: int):
        overview = selectors.usage_overview(organization=request.organization, on=self.on(request))
        return Response(
            {
                "plan": overview.plan_name,
                "period_start": overview.period_start.isoformat(),
                "resets_on": overview.resets_on.isoformat(),
                "overall_percent": overview.overall_percent,
                "meters": [
                    {**entitlement_data(m), "label": m.label, "percent": m.percent} for m in overview.meters
                ],
            }
        )


class SeriesSerializer(serializers.Serializer):
    name = serializers.CharField()
    unit = serializers.CharField(help_text="tokens, or minor units of `currency`.")
    currency = serializers.CharField(allow_null=True)
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text="Exclusive.")
    labels = serializers.ListField(child=serializers.CharField())
    values = serializers.ListField(child=serializers.IntegerField())


class UsageStatisticsApi(OrganizationUsageApi):
    @extend_schema(
        operation_id="usage_statistics",
        summary="Chart-ready statistics series",
        description=(
            "`daily`: tokens per day over the current billing period; `monthly`: tokens per month over "
            "12 months; `models`: tokens per AI model this period; `actions`: cost per action type this "
            "period (minor units, from the catalogue's price per 1,000 tokens per model)."
        ),
        parameters=[
            ORGANIZATION_ID,
            OpenApiParameter("series", str, OpenApiParameter.PATH, enum=list(selectors.STATISTICS)),
        ],
        responses={200: SeriesSerializer},
        tags=["usage"],
    )
    def get(self, request, organization_id: int, series: str):
        selector = selectors.STATISTICS.get(series)
        if selector is None:
            raise Http404(f"No series {series!r}; series are {', '.join(selectors.STATISTICS)}.")
        result = selector(organization=request.organization, on=self.on(request))
        return Response(
            {
                "name": result.name,
                "unit": result.unit,
                "currency": result.currency,
                "period_start": result.period_start.isoformat(),
                "period_end": result.period_end.isoformat(),
                "labels": result.labels,
                "values": result.values,
            }
        )
