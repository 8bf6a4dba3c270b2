"""The usage API: ingestion for the SaaS's machine client, entitlements and statistics.

Ingestion takes the organization's API key only (the organization is the key's); the
entitlement and usage reads take the key or a member's session (`api.base.ApiView.bind`).
Per-event refusals inside a 200 ingestion answer (`invalid_timestamp`, ...) are results,
not errors: each carries its `index`, `code` and `message`.
"""

import orjson
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, parsers, renderers, serializers
from rest_framework.response import Response

from api.authentication import ApiKeyAuthentication
from api.base import ApiView, InputRefused, error_responses
from core import clock
from organizations.errors import RuleViolation
from organizations.models import Scope
from usage import domain as D
from usage import selectors
from usage.services import usage_record_batch

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


class UsageEventSerializer(serializers.Serializer):
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


class UsageEventResultSerializer(serializers.Serializer):
    # Data, not an error: a rejected event's code and message sit beside the kept ones.
    index = serializers.IntegerField(help_text="The event's place in the request, from 0.")
    event_id = serializers.CharField()
    status = serializers.CharField(
        help_text="accepted, duplicate (sent before: not counted again) or rejected."
    )
    duplicate = serializers.BooleanField()
    code = serializers.CharField(required=False, help_text="Rejected only: e.g. invalid_timestamp.")
    message = serializers.CharField(required=False, help_text="Rejected only: what was wrong with the event.")


class UsageEventsRecordApi(ApiView):
    # Only the machine client reports usage: a person's session is not accepted (401).
    scope = Scope.USAGE_WRITE
    authentication_classes = [ApiKeyAuthentication]
    parser_classes = [BatchJSONParser]
    renderer_classes = [BatchJSONRenderer]

    class InputSerializer(serializers.Serializer):
        # The schema and OPTIONS only: `post` reads the events itself (a result per event).
        events = serializers.ListField(child=UsageEventSerializer(), max_length=D.MAX_BATCH)

    class OutputSerializer(serializers.Serializer):
        accepted = serializers.IntegerField()
        duplicates = serializers.IntegerField()
        rejected = serializers.IntegerField()
        results = UsageEventResultSerializer(many=True, help_text="One per event, in the order sent.")

    @extend_schema(
        operation_id="usage_events_record",
        summary="Report usage events (up to 1,000 a request)",
        description=(
            "Each event: `event_id` (yours; the same id is counted once, forever), `meter` "
            "(ai_tokens, documents, agents), `quantity`, `timestamp` (ISO 8601, not before the previous "
            "billing period, at most 5 minutes ahead), `dimensions` {`model`, `action`}. Bad events are "
            "rejected one by one with index, code and message in `results`; the good ones are kept. "
            "Usage is never refused for a limit: ask the entitlements endpoint before using more. The "
            "whole request is refused (nothing kept) for a body that is not JSON (400 `parse_error`), "
            "not an object with an `events` list (400 `invalid_body`), more than 1,000 events (400 "
            "`batch_too_large`), another content type (415), a missing, unknown or revoked key (401), "
            "or too many bad keys from one address (429 `too_many_failed_keys` with Retry-After)."
        ),
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            **error_responses(400, 401, 415, 429, organization_in_url=False),
        },
        tags=["usage"],
    )
    def post(self, request):
        events = request.data.get("events") if isinstance(request.data, dict) else None
        if not isinstance(events, list):
            raise InputRefused('Send a JSON object: {"events": [ ... ]}.', code="invalid_body")
        try:
            results = usage_record_batch(organization=self.organization, events=events, at=clock.now())
        except RuleViolation as exc:  # the batch as a whole (too many events): the input, so 400
            raise InputRefused(exc.message, code=exc.code, field="events") from exc
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


class EntitlementListApi(ApiView):
    scope = Scope.ENTITLEMENTS_READ

    @extend_schema(
        operation_id="entitlements_list",
        summary="Limits and usage of every meter",
        description=(
            "Every meter of the plan: its limit and the use counted against it. With the organization's"
            " API key (`Bearer sbk_...`) or a member's session."
        ),
        parameters=[ORGANIZATION_ID],
        responses={
            200: inline_serializer("EntitlementList", {"entitlements": EntitlementSerializer(many=True)}),
            **error_responses(401, 429),
        },
        tags=["usage"],
    )
    def get(self, request, organization_id: int):
        _at, on = clock.organization_now_and_today(self.organization)
        items = selectors.entitlements_all(organization=self.organization, on=on)
        return Response({"entitlements": [entitlement_data(item) for item in items]})


class EntitlementDetailApi(ApiView):
    scope = Scope.ENTITLEMENTS_READ

    @extend_schema(
        operation_id="entitlements_check",
        summary="May the organization use N more of a meter?",
        description="Served from the rollups in one short query (seats: from the team's seats).",
        parameters=[
            ORGANIZATION_ID,
            OpenApiParameter("meter", str, OpenApiParameter.PATH, enum=list(D.ALL_METERS)),
            OpenApiParameter("quantity", int, OpenApiParameter.QUERY, description="Default 1."),
        ],
        responses={200: EntitlementSerializer, **error_responses(400, 401, 429)},
        tags=["usage"],
    )
    def get(self, request, organization_id: int, meter: str):
        if meter not in D.ALL_METERS:
            raise Http404(f"No meter {meter!r}; meters are {', '.join(D.ALL_METERS)}.")
        quantity = asked_quantity(request.query_params.get("quantity", "1"))
        if quantity is None:
            raise InputRefused(
                "quantity must be a whole number, 0 or more.", code="invalid_quantity", field="quantity"
            )
        _at, on = clock.organization_now_and_today(self.organization)
        item = selectors.entitlement(organization=self.organization, meter=meter, quantity=quantity, on=on)
        return Response(entitlement_data(item))


def asked_quantity(raw: str) -> int | None:
    """The `quantity` query parameter, or None when it is not a whole number in range."""
    try:
        quantity = int(raw)
    except ValueError:
        return None
    return quantity if 0 <= quantity <= D.MAX_QUANTITY else None


class UsageMeterSerializer(EntitlementSerializer):
    label = serializers.CharField(help_text="The meter's name, in the caller's language.")
    percent = serializers.IntegerField(
        allow_null=True, help_text="Percent of the limit used; null: unlimited."
    )


class UsageOverviewApi(ApiView):
    scope = Scope.USAGE_READ

    class OutputSerializer(serializers.Serializer):
        # The schema only: `get` builds the answer from the selector's overview.
        plan = serializers.CharField(allow_null=True, help_text="The plan's name; null: no subscription.")
        period_start = serializers.DateField()
        resets_on = serializers.DateField(help_text="Start of the next period.")
        overall_percent = serializers.IntegerField(help_text="The highest percent of any limited meter.")
        meters = UsageMeterSerializer(many=True)

    @extend_schema(
        operation_id="usage_overview",
        summary="The overview's usage card: four meters and the overall percent",
        description=(
            "The dashboard's usage card as data: four meters with their use, and the overall percent of"
            " the limits used. With the organization's API key or a member's session."
        ),
        parameters=[ORGANIZATION_ID],
        responses={200: OutputSerializer, **error_responses(401, 429)},
        tags=["usage"],
    )
    def get(self, request, organization_id: int):
        _at, on = clock.organization_now_and_today(self.organization)
        overview = selectors.usage_overview(organization=self.organization, on=on)
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


class UsageStatisticsApi(ApiView):
    scope = Scope.USAGE_READ

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
        responses={200: SeriesSerializer, **error_responses(401, 429)},
        tags=["usage"],
    )
    def get(self, request, organization_id: int, series: str):
        selector = selectors.STATISTICS.get(series)
        if selector is None:
            raise Http404(f"No series {series!r}; series are {', '.join(selectors.STATISTICS)}.")
        _at, on = clock.organization_now_and_today(self.organization)
        result = selector(organization=self.organization, on=on)
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
