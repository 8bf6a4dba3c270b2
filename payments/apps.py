from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "payments"
    verbose_name = "Payments"

    def ready(self):
        from core import events

        from . import hooks

        events.subscribe(events.INVOICE_ISSUED, hooks.invoice_issued)
        events.subscribe(events.CHARGES_CARD, hooks.charges_card)
