"""Outbound webhooks: endpoints (add, read, change, disable, roll the secret) and the delivery
log with replay. Owners and admins by their session (MANAGE_WEBHOOKS), or an API key with
`webhooks:read` (GET) and `webhooks:write` (the rest): a key that may add an endpoint may
send the organization's events anywhere, so no key has it unless an owner chose it.
"""

import datetime as dt

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from api.base import ApiView, error_responses
from api.idempotency import PARAMETER as IDEMPOTENCY_KEY
from api.idempotency import idempotent
from core import clock
from organizations.models import Scope
from organizations.tenancy import Capability
from webhooks import selectors, services
from webhooks.models import EventType, WebhookDelivery

TAGS = ["webhooks"]
EVENTS_HELP = "Event types sent to the endpoint: " + ", ".join(EventType.values) + "."


class EndpointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    description = serializers.CharField()
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices), help_text=EVENTS_HELP
    )
    active = serializers.BooleanField()
    secret_hint = serializers.CharField(help_text="The start of the signing secret; the whole is shown once.")
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Until when a rolled secret still signs beside the new one; null: none."
    )
    created_at = serializers.DateTimeField()


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(
        help_text="The signing secret (`whsec_...`): returned by this answer only, keep it safe."
    )


class DeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    endpoint_id = serializers.IntegerField()
    event_id = serializers.CharField(
        source="event.public_id", help_text="The event's id (`evt_...`), its body's `id`."
    )
    event_type = serializers.ChoiceField(source="event.type", choices=EventType.choices)
    replay_of = serializers.IntegerField(source="replay_of_id", allow_null=True)
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    attempts = serializers.IntegerField()
    response_status = serializers.IntegerField(allow_null=True, help_text="The last answer's HTTP status.")
    last_error = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    next_attempt_at = serializers.DateTimeField(allow_null=True, help_text="Pending only: the next retry.")
    delivered_at = serializers.DateTimeField(allow_null=True)


class WebhookApiView(ApiView):
    capability = Capability.MANAGE_WEBHOOKS
    scope = {
        "GET": Scope.WEBHOOKS_READ,
        "POST": Scope.WEBHOOKS_WRITE,
        "PATCH": Scope.WEBHOOKS_WRITE,
    }

    def get_endpoint(self, endpoint_id: int):
        endpoint = selectors.endpoint_get(organization=self.organization, endpoint_id=endpoint_id)
        if endpoint is None:
            raise Http404("No such webhook endpoint.")
        return endpoint


class WebhookEndpointListApi(WebhookApiView):
    class InputSerializer(serializers.Serializer):
        url = serializers.CharField(max_length=2000, help_text="An https:// URL on a public address.")
        description = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
        events = serializers.ListField(
            child=serializers.ChoiceField(choices=EventType.choices), min_length=1, help_text=EVENTS_HELP
        )

    @extend_schema(
        operation_id="webhook_endpoints_list",
        summary="The organization's webhook endpoints",
        description="Every endpoint, active or disabled, with the start of its secret (never the whole).",
        responses={200: EndpointSerializer(many=True), **error_responses()},
        tags=TAGS,
    )
    def get(self, request, organization_id: int):
        endpoints = selectors.endpoint_list(organization=self.organization)
        return Response(EndpointSerializer(endpoints, many=True).data)

    @extend_schema(
        operation_id="webhook_endpoints_create",
        summary="Add a webhook endpoint",
        description=(
            "Adds an active endpoint sent the chosen event types, and returns its signing secret: this "
            "answer is the only one that carries it. The URL must be https:// on a public address "
            "(400 `invalid_webhook_endpoint`, `field` says which input); at most 16 endpoints "
            "(409 `webhook_endpoint_limit`)."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: EndpointWithSecretSerializer, **error_responses(400, 409, 422)},
        tags=TAGS,
    )
    @idempotent
    def post(self, request, organization_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = services.endpoint_create(
            organization=self.organization, at=clock.now(), acting_user=request.user, **data.validated_data
        )
        body = EndpointSerializer(endpoint).data
        return Response({**body, "secret": secret}, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailApi(WebhookApiView):
    class InputSerializer(serializers.Serializer):
        url = serializers.CharField(max_length=2000, required=False)
        description = serializers.CharField(max_length=200, required=False, allow_blank=True)
        events = serializers.ListField(
            child=serializers.ChoiceField(choices=EventType.choices), min_length=1, required=False
        )
        active = serializers.BooleanField(
            required=False, help_text="false: nothing more is sent, pending retries included."
        )

    @extend_schema(
        operation_id="webhook_endpoints_read",
        summary="A webhook endpoint",
        description="One endpoint of this organization; 404 for any other.",
        responses={200: EndpointSerializer, **error_responses()},
        tags=TAGS,
    )
    def get(self, request, organization_id: int, endpoint_id: int):
        return Response(EndpointSerializer(self.get_endpoint(endpoint_id)).data)

    @extend_schema(
        operation_id="webhook_endpoints_update",
        summary="Change a webhook endpoint: URL, events, description, active",
        description=(
            "Changes what is sent (omitted fields stay). `active: false` disables the endpoint and "
            "gives up its pending retries; `active: true` sends it new events again."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: EndpointSerializer, **error_responses(400, 422)},
        tags=TAGS,
    )
    @idempotent
    def patch(self, request, organization_id: int, endpoint_id: int):
        endpoint = self.get_endpoint(endpoint_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(
            organization=self.organization,
            endpoint_id=endpoint.pk,
            at=clock.now(),
            acting_user=request.user,
            **data.validated_data,
        )
        return Response(EndpointSerializer(endpoint).data)


class WebhookEndpointSecretRollApi(WebhookApiView):
    class InputSerializer(serializers.Serializer):
        grace_hours = serializers.IntegerField(
            min_value=0,
            max_value=168,
            default=24,
            help_text="Hours the old secret keeps signing beside the new one (0: it stops at once).",
        )

    @extend_schema(
        operation_id="webhook_endpoints_roll_secret",
        summary="Roll an endpoint's signing secret",
        description=(
            "Makes a new secret and returns it (this answer only). For `grace_hours` each delivery "
            "carries a signature by the old secret too, so the receiver can switch without missing one."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: EndpointWithSecretSerializer, **error_responses(400, 422)},
        tags=TAGS,
    )
    @idempotent
    def post(self, request, organization_id: int, endpoint_id: int):
        endpoint = self.get_endpoint(endpoint_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = services.endpoint_secret_roll(
            organization=self.organization,
            endpoint_id=endpoint.pk,
            at=clock.now(),
            grace=dt.timedelta(hours=data.validated_data["grace_hours"]),
            acting_user=request.user,
        )
        return Response({**EndpointSerializer(endpoint).data, "secret": secret})


class WebhookDeliveryListApi(WebhookApiView):
    @extend_schema(
        operation_id="webhook_deliveries_list",
        summary="The delivery log",
        description=(
            "The latest 100 deliveries, newest first: status (pending, succeeded, failed), attempts, "
            "the last answer's status and error, and the next retry. "
            "`endpoint_id` narrows it to one endpoint."
        ),
        parameters=[OpenApiParameter("endpoint_id", int, description="Only this endpoint's deliveries.")],
        responses={200: DeliverySerializer(many=True), **error_responses(400)},
        tags=TAGS,
    )
    def get(self, request, organization_id: int):
        endpoint = None
        raw = request.query_params.get("endpoint_id")
        if raw is not None:
            if not raw.isdigit():
                raise serializers.ValidationError({"endpoint_id": ["A whole number."]})
            endpoint = self.get_endpoint(int(raw))
        deliveries = selectors.delivery_log(organization=self.organization, endpoint=endpoint, limit=100)
        return Response(DeliverySerializer(deliveries, many=True).data)


class WebhookDeliveryReplayApi(WebhookApiView):
    @extend_schema(
        operation_id="webhook_deliveries_replay",
        summary="Send a delivery's event again",
        description=(
            "A new delivery of the same event (same `evt_` id, so a receiver that has it can tell) to the "
            "same endpoint, retried as any other. "
            "409 `webhook_delivery_refused` when the endpoint is disabled."
        ),
        request=None,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: DeliverySerializer, **error_responses(409, 422)},
        tags=TAGS,
    )
    @idempotent
    def post(self, request, organization_id: int, delivery_id: int):
        if selectors.delivery_get(organization=self.organization, delivery_id=delivery_id) is None:
            raise Http404("No such delivery.")
        delivery = services.delivery_replay(
            organization=self.organization, delivery_id=delivery_id, at=clock.now(), acting_user=request.user
        )
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_201_CREATED)
