"""Invoices no longer name a subscription: billing.SubscriptionInvoice (billing 0005) links
each invoice to its subscription and holds the constraint that a scheduled invoice is
issued once per subscription, reason and day.

The frozen-document triggers name the column, so they are dropped first and made again
without it once the column is gone (SQLite also drops a table's triggers when it rebuilds
the table to remove a column). Going back restores the column from the links.
"""

from django.db import migrations
from django.db.models import OuterRef, Subquery

from invoices.migrations._frozen_columns import refreeze

# Every column added since 0002, frozen once issued; and the one of 0002's lists removed here.
CHECK = ["customer_vat_id_check", "customer_vat_id_checked_on"]
DUE = ["due_on", "due_on_receipt"]
EXTRA = {"invoices_invoice": CHECK + DUE + ["serviced_organization_id"], "invoices_creditnote": CHECK}
DROPPED = {"invoices_invoice": ["subscription_id"]}


def unfreeze(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in ("invoices_invoice", "invoices_creditnote"):
        on = f" ON {table}" if vendor == "postgresql" else ""
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_frozen{on}")


def subscription_fill(apps, schema_editor):
    """Backwards only: each invoice's subscription again, from its link."""
    Invoice = apps.get_model("invoices", "Invoice")
    SubscriptionInvoice = apps.get_model("billing", "SubscriptionInvoice")
    Invoice.objects.update(
        subscription=Subquery(
            SubscriptionInvoice.objects.filter(invoice_id=OuterRef("pk")).values("subscription_id")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0008_invoice_serviced_organization"),
        ("billing", "0005_subscription_invoice"),
    ]

    operations = [
        migrations.RunPython(unfreeze, refreeze(EXTRA).code),
        migrations.RunPython(migrations.RunPython.noop, subscription_fill),
        migrations.RemoveConstraint(
            model_name="invoice",
            name="invoice_once_per_subscription_day_reason",
        ),
        migrations.RemoveField(
            model_name="invoice",
            name="subscription",
        ),
        migrations.RunPython(refreeze(EXTRA, DROPPED).code, unfreeze),
    ]
