from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        from core import events

        from . import hooks

        events.subscribe(events.INVOICE_ISSUED, hooks.invoice_issued)
        events.subscribe(events.INVOICE_PAID, hooks.invoice_paid)
        events.subscribe(events.INVOICE_PAYMENT_FAILED, hooks.invoice_payment_failed)
        events.subscribe(events.CREDIT_NOTE_ISSUED, hooks.credit_note_issued)
        events.subscribe(events.SUBSCRIPTION_RENEWED, hooks.subscription_renewed)
        events.subscribe(events.SUBSCRIPTION_PLAN_CHANGED, hooks.subscription_plan_changed)
        events.subscribe(events.SEATS_CHANGED, hooks.seats_changed)
        events.subscribe(events.USAGE_THRESHOLD_REACHED, hooks.usage_threshold_reached)
