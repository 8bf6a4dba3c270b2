"""Reads of an organization's webhooks; every one starts from the organization."""

from django.db.models import QuerySet

from organizations.models import Organization

from .models import WebhookDelivery, WebhookEndpoint


def endpoint_list(*, organization: Organization) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organization=organization).order_by("pk")


def endpoint_get(*, organization: Organization, endpoint_id: int) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(organization=organization, pk=endpoint_id).first()


def delivery_log(
    *, organization: Organization, endpoint: WebhookEndpoint | None = None, limit: int = 50
) -> list[WebhookDelivery]:
    """The latest deliveries, newest first (of one endpoint, or of all)."""
    deliveries = WebhookDelivery.objects.filter(organization=organization)
    if endpoint is not None:
        deliveries = deliveries.filter(endpoint=endpoint)
    return list(deliveries.select_related("event", "endpoint").order_by("-created_at", "-pk")[:limit])


def delivery_get(*, organization: Organization, delivery_id: int) -> WebhookDelivery | None:
    return (
        WebhookDelivery.objects.select_related("event", "endpoint")
        .filter(organization=organization, pk=delivery_id)
        .first()
    )
