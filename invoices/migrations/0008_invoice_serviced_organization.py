"""Invoice.serviced_organization: whose service the lines are for, kept on the invoice itself.

Until now it was read through the invoice's subscription (`invoice.subscription.organization`),
which made invoices depend on billing. Issued invoices get it from their subscription (or,
without one, their own organization, as `invoice_issue` was given), and from now on it is
one of the columns an issued invoice never changes (`refreeze`).
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery

from invoices.migrations._frozen_columns import refreeze

# Every column added since 0002, frozen once issued.
CHECK = ["customer_vat_id_check", "customer_vat_id_checked_on"]
DUE = ["due_on", "due_on_receipt"]
BEFORE = {"invoices_invoice": CHECK + DUE, "invoices_creditnote": CHECK}
AFTER = {"invoices_invoice": CHECK + DUE + ["serviced_organization_id"], "invoices_creditnote": CHECK}


def serviced_organization_fill(apps, schema_editor):
    Invoice = apps.get_model("invoices", "Invoice")
    Subscription = apps.get_model("billing", "Subscription")
    Invoice.objects.filter(subscription__isnull=False).update(
        serviced_organization=Subquery(
            Subscription.objects.filter(pk=OuterRef("subscription_id")).values("organization_id")[:1]
        )
    )
    Invoice.objects.filter(subscription__isnull=True).update(serviced_organization=F("organization"))


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0007_header_period_is_span_of_lines"),
        ("organizations", "0007_payment_terms"),
        ("billing", "0004_seat_interval_changes"),
    ]

    operations = [
        # Backwards, last: SQLite drops a table's triggers when it rebuilds the table to remove
        # the column, so they are made again once the column is gone.
        migrations.RunPython(migrations.RunPython.noop, refreeze(BEFORE).code),
        migrations.AddField(
            model_name="invoice",
            name="serviced_organization",
            field=models.ForeignKey(
                blank=True,
                help_text="Whose service the lines are for: the payer itself, or the client a partner pays for.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="organizations.organization",
            ),
        ),
        migrations.RunPython(serviced_organization_fill, migrations.RunPython.noop),
        refreeze(AFTER),
    ]
