"""What we know of payments: Stripe customers, payment methods, attempts, each invoice's
collection (dunning), refunds, disputes and the webhook events they came from.

Stripe is the source of truth for what happened to a payment; these rows are what we know of
it, each written by one service in this app and safe to write twice.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from invoices.models import Invoice
from organizations.models import Organization


class StripeCustomer(models.Model):
    """The organization's customer at Stripe, created when first needed: one per organization."""

    organization = models.OneToOneField(
        Organization, on_delete=models.PROTECT, related_name="stripe_customer"
    )
    stripe_id = models.CharField(max_length=255, unique=True)
    details_fingerprint = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the billing details last sent to Stripe."
    )
    created_at = models.DateTimeField()
    synced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.organization} = {self.stripe_id}"


class PaymentMethod(models.Model):
    """A card (or other method) attached to the organization's Stripe customer, as Stripe last said."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="payment_methods")
    stripe_id = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=32, help_text="Stripe's type: card, sepa_debit, ...")
    brand = models.CharField(max_length=32, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    is_default = models.BooleanField(default=False, help_text="The customer's default: what invoices charge.")
    attached_at = models.DateTimeField()
    detached_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-is_default", "-attached_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"], condition=Q(is_default=True), name="payment_method_one_default"
            ),
            models.CheckConstraint(
                condition=Q(is_default=False) | Q(detached_at__isnull=True),
                name="payment_method_default_is_attached",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand or self.kind} ···· {self.last4}"


class PaymentAttempt(models.Model):
    """One try to collect an invoice off-session: one PaymentIntent at Stripe.

    Number 1 is the charge after the issue, 2.. the dunning retries; the idempotency key
    is derived from the invoice and the number, so a task that runs twice sends the same
    request twice and Stripe answers it once.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Sent to Stripe"
        PROCESSING = "processing", "Processing"
        REQUIRES_ACTION = "requires_action", "Waiting for the customer to confirm"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    IN_FLIGHT = (Status.PENDING, Status.PROCESSING)

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey("invoices.Invoice", on_delete=models.PROTECT, related_name="payment_attempts")
    number = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=255, unique=True)
    payment_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    charge_id = models.CharField(max_length=255, blank=True)
    payment_method_id = models.CharField(
        max_length=255, blank=True, help_text="Stripe id of the method charged."
    )
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    action_emailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["invoice", "number"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "number"], name="payment_attempt_number_unique"),
            # Never two PaymentIntents in flight for one invoice: the backstop of the row lock.
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(status__in=["pending", "processing"]),
                name="payment_attempt_one_in_flight",
            ),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payment_attempt_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} try {self.number}: {self.status}"


class InvoiceCollection(models.Model):
    """Dunning state of one invoice whose payment failed: tries, the next retry, the final action."""

    class FinalAction(models.TextChoices):
        CANCEL_AT_PERIOD_END = "cancel_at_period_end", "Cancel at period end"
        MARK_UNCOLLECTIBLE = "mark_uncollectible", "Mark uncollectible and block"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    invoice = models.OneToOneField("invoices.Invoice", on_delete=models.PROTECT, related_name="collection")
    failed_attempts = models.PositiveIntegerField(default=0)
    first_failed_at = models.DateTimeField(null=True, blank=True, help_text="Retries count from here.")
    last_failed_at = models.DateTimeField(null=True, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True, help_text="Empty: no retry scheduled.")
    final_action = models.CharField(max_length=32, choices=FinalAction.choices, blank=True)
    final_action_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["next_retry_at"],
                condition=Q(next_retry_at__isnull=False),
                name="collection_retry_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.failed_attempts} failed"


class InvoiceStatusChange(models.Model):
    """Append-only: every change of an invoice's payment status, who made it, when and why."""

    class Source(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        STAFF = "staff", "Staff"
        DUNNING = "dunning", "Dunning"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey("invoices.Invoice", on_delete=models.PROTECT, related_name="status_changes")
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    source = models.CharField(max_length=16, choices=Source.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200, help_text="Who, as shown: e-mail, 'stripe' or 'system'.")
    reference = models.CharField(max_length=255, blank=True, help_text="PaymentIntent, bank reference, ...")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["invoice", "at"])]

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.from_status} -> {self.to_status} by {self.actor_label}"


class WebhookEvent(models.Model):
    """A Stripe event as received: stored once per event id, then handled by a task."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed (will be retried)"

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=255, blank=True)
    livemode = models.BooleanField(default=False)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["status", "received_at"])]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type} ({self.status})"


class PaymentRefund(models.Model):
    """A credit note paid back to the card its invoice was paid with, instead of kept as balance.

    The amount leaves the credit balance (`debit_entry`) when the refund is requested; a
    refund Stripe refuses puts it back (`restore_entry`).
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    credit_note = models.OneToOneField("invoices.CreditNote", on_delete=models.PROTECT, related_name="refund")
    attempt = models.ForeignKey(PaymentAttempt, on_delete=models.PROTECT, related_name="refunds")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    idempotency_key = models.CharField(max_length=255, unique=True)
    stripe_refund_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    failure_message = models.CharField(max_length=300, blank=True)
    debit_entry = models.OneToOneField(
        "invoices.CreditBalanceEntry",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Out of the balance.",
    )
    restore_entry = models.OneToOneField(
        "invoices.CreditBalanceEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Back into the balance when the refund failed.",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payment_refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"Refund of {self.credit_note_id}: {self.status}"


class PaymentDispute(models.Model):
    """A chargeback the customer's bank opened against one of our charges."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    attempt = models.ForeignKey(
        PaymentAttempt, on_delete=models.PROTECT, null=True, blank=True, related_name="disputes"
    )
    stripe_dispute_id = models.CharField(max_length=255, unique=True)
    charge_id = models.CharField(max_length=255)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=32, blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-recorded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.stripe_dispute_id} on {self.charge_id}"


class PayableInvoice(Invoice):
    """Invoices as the admin's payments desk sees them: staff record bank transfers here."""

    class Meta:
        proxy = True
        verbose_name = "invoice payment"
        verbose_name_plural = "invoice payments"


class PaymentReceipt(models.Model):
    """The marker that a paid invoice's receipt e-mail went out: at most one per invoice, ever
    (payments.receipts; a webhook delivered again or a second worker finds it and sends nothing)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    invoice = models.OneToOneField("invoices.Invoice", on_delete=models.PROTECT, related_name="receipt")
    status_change = models.ForeignKey(
        InvoiceStatusChange, on_delete=models.PROTECT, related_name="+", help_text="The change to paid."
    )
    recipients = models.TextField(help_text="Comma-separated addresses it was sent to.")
    language = models.CharField(max_length=8)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"Receipt for {self.invoice_id} to {self.recipients}"
