"""Admin for payments: the payments desk (mark bank transfers paid) and read-only records.

Registered from billing/admin.py. Every row here is written by a service; the admin only
shows them, except the one action staff take: "Mark paid (bank transfer received)".
"""

from django.contrib import admin, messages

from core import clock
from organizations.errors import RuleViolation
from payments.charging import invoice_mark_paid
from payments.commit import enqueue_after_commit
from payments.models import (
    InvoiceCollection,
    InvoiceStatusChange,
    PayableInvoice,
    PaymentAttempt,
    PaymentDispute,
    PaymentMethod,
    PaymentReceipt,
    PaymentRefund,
    StripeCustomer,
    WebhookEvent,
)


class ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StatusChangeInline(ReadOnly, admin.TabularInline):
    model = InvoiceStatusChange
    fk_name = "invoice"
    extra = 0
    fields = ("at", "from_status", "to_status", "source", "actor_label", "reference")
    readonly_fields = fields


class AttemptInline(ReadOnly, admin.TabularInline):
    model = PaymentAttempt
    fk_name = "invoice"
    extra = 0
    fields = (
        "number",
        "status",
        "amount_minor",
        "payment_intent_id",
        "failure_code",
        "failure_message",
        "created_at",
    )
    readonly_fields = fields


@admin.register(PayableInvoice)
class PayableInvoiceAdmin(admin.ModelAdmin):
    """Invoices' payment status: record a payment received outside Stripe (needs the change
    permission; the invoice itself never changes here)."""

    list_display = (
        "number",
        "organization",
        "issued_on",
        "amount_due_minor",
        "currency",
        "status",
        "status_changed_at",
    )
    list_filter = ("status",)
    search_fields = ("number", "organization__name", "organization__customer_code")
    fields = (
        "number",
        "organization",
        "issued_on",
        "amount_due_minor",
        "currency",
        "status",
        "status_changed_at",
    )
    readonly_fields = fields
    inlines = [AttemptInline, StatusChangeInline]
    actions = ["mark_paid"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Mark paid (bank transfer received)", permissions=["change"])
    def mark_paid(self, request, queryset):
        at = clock.now()
        done = 0
        for invoice in queryset:
            try:
                invoice_mark_paid(invoice=invoice, at=at, acting_user=request.user, reference="bank transfer")
            except RuleViolation as exc:
                self.message_user(request, exc.message, level=messages.WARNING)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} invoice(s) marked paid by {request.user.get_username()}.")


@admin.register(StripeCustomer)
class StripeCustomerAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("organization", "stripe_id", "synced_at")
    search_fields = ("stripe_id", "organization__name")


@admin.register(PaymentMethod)
class PaymentMethodAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("organization", "brand", "last4", "exp_month", "exp_year", "is_default", "detached_at")
    list_filter = ("is_default",)
    search_fields = ("stripe_id", "organization__name")


@admin.register(PaymentAttempt)
class PaymentAttemptAdmin(ReadOnly, admin.ModelAdmin):
    list_display = (
        "invoice",
        "number",
        "status",
        "amount_minor",
        "currency",
        "payment_intent_id",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("payment_intent_id", "invoice__number")


@admin.register(InvoiceCollection)
class InvoiceCollectionAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("invoice", "failed_attempts", "first_failed_at", "next_retry_at", "final_action")
    list_filter = ("final_action",)


@admin.register(InvoiceStatusChange)
class InvoiceStatusChangeAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("invoice", "from_status", "to_status", "source", "actor_label", "reference", "at")
    list_filter = ("source", "to_status")
    search_fields = ("invoice__number", "reference")


@admin.register(PaymentReceipt)
class PaymentReceiptAdmin(ReadOnly, admin.ModelAdmin):
    """Receipts e-mailed: one per paid invoice (payments.receipts)."""

    list_display = ("invoice", "organization", "recipients", "language", "sent_at")
    search_fields = ("invoice__number", "recipients")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("event_id", "type", "status", "attempts", "received_at", "processed_at")
    list_filter = ("status", "type")
    search_fields = ("event_id", "object_id")
    actions = ["process_again"]

    @admin.action(description="Handle again (failed or stuck events)")
    def process_again(self, request, queryset):
        # Through the outbox: a broker that is down (or loses the message) delays the handling.
        for event in queryset.exclude(
            status__in=[WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED]
        ):
            enqueue_after_commit("webhook_event_task", event.pk)


@admin.register(PaymentRefund)
class PaymentRefundAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("credit_note", "amount_minor", "currency", "status", "stripe_refund_id", "requested_at")
    list_filter = ("status",)


@admin.register(PaymentDispute)
class PaymentDisputeAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("stripe_dispute_id", "organization", "charge_id", "amount_minor", "reason", "status")
