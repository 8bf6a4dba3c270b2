"""An organization's webhook endpoints, the events it was told of, and each delivery.

Every row carries `organization`: every query that serves a request starts from it.
"""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from organizations.models import Organization


class EventType(models.TextChoices):
    INVOICE_ISSUED = "invoice.issued", _("Invoice issued")
    INVOICE_PAID = "invoice.paid", _("Invoice paid")
    INVOICE_PAYMENT_FAILED = "invoice.payment_failed", _("Invoice payment failed")
    CREDIT_NOTE_ISSUED = "credit_note.issued", _("Credit note issued")
    SUBSCRIPTION_RENEWED = "subscription.renewed", _("Subscription renewed")
    SUBSCRIPTION_PLAN_CHANGED = "subscription.plan_changed", _("Plan changed")
    SEAT_ADDED = "seat.added", _("Seats added")
    SEAT_REMOVED = "seat.removed", _("Seats removed")
    USAGE_THRESHOLD_REACHED = "usage.threshold_reached", _("Usage threshold reached")
    ENTITLEMENT_EXHAUSTED = "entitlement.exhausted", _("Entitlement exhausted")


class WebhookEndpoint(models.Model):
    """An HTTPS address of the organization's and the event types it is sent.

    `secret` signs every delivery. Rolling it keeps the old one in `previous_secret` until
    `previous_secret_expires_at`: meanwhile each delivery carries a signature by each, so a
    receiver still checking the old secret accepts them while it is switched over.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="The event types this endpoint is sent.")
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["organization", "active"], name="webhook_endpoint_org_active")]

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.url}"

    @property
    def secret_hint(self) -> str:
        """What the pages show of the secret after it was shown once."""
        return f"{self.secret[:10]}…"


class WebhookEvent(models.Model):
    """One thing that happened to an organization, as its endpoints receive it (`payload`).

    `id` is the receiver's de-duplication key: a delivery sent again (a retry, a replay)
    carries the same id. `key` is the change's natural key ("invoice:12:issued"): the same
    change announced twice is one event.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=40, choices=EventType.choices)
    key = models.CharField(max_length=200)
    payload = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "type", "key"], name="webhook_event_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"

    @property
    def public_id(self) -> str:
        return f"evt_{self.id.hex}"


class WebhookDelivery(models.Model):
    """One event sent to one endpoint, until it is answered 2xx or gives up after three days.

    A replay from the delivery log is a new delivery of the same event (`replay_of`), so the
    log keeps what happened to the first.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    replay_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text="The start of the last answer.")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["organization", "-created_at"], name="webhook_delivery_org_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event} -> {self.endpoint_id} ({self.status})"
