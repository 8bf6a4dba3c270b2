"""SubscriptionInvoice: the link from an invoice to the subscription it was issued for.

It replaces Invoice.subscription (removed by invoices 0006), so that invoices know nothing
of billing, with the invoice's reason and issue date and the constraint that a scheduled
invoice is issued once per subscription, reason and day. Issued invoices get their link here. A link never
changes: PostgreSQL refuses updates and deletes; SQLite (the demo database) refuses
updates only, so that `flush` keeps working.
"""

import django.db.models.deletion
from django.db import migrations, models

TABLE = "billing_subscriptioninvoice"


def links_fill(apps, schema_editor):
    Invoice = apps.get_model("invoices", "Invoice")
    SubscriptionInvoice = apps.get_model("billing", "SubscriptionInvoice")
    linked = Invoice.objects.filter(subscription__isnull=False).values_list(
        "pk", "subscription_id", "subscription__organization_id", "reason", "issued_on"
    )
    SubscriptionInvoice.objects.bulk_create(
        (
            SubscriptionInvoice(
                invoice_id=invoice_id,
                subscription_id=subscription_id,
                organization_id=organization_id,
                reason=reason,
                issued_on=issued_on,
            )
            for invoice_id, subscription_id, organization_id, reason, issued_on in linked.iterator()
        ),
        batch_size=1000,
    )


def freeze(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            f"""
CREATE OR REPLACE FUNCTION {TABLE}_frozen() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'the subscription of an issued invoice never changes' USING ERRCODE = '55000';
END $$ LANGUAGE plpgsql;
CREATE TRIGGER {TABLE}_frozen BEFORE UPDATE OR DELETE ON {TABLE}
  FOR EACH ROW EXECUTE FUNCTION {TABLE}_frozen();""",
            params=None,
        )
    elif vendor == "sqlite":
        schema_editor.execute(
            f"""
CREATE TRIGGER {TABLE}_frozen BEFORE UPDATE ON {TABLE}
BEGIN SELECT RAISE(ABORT, 'the subscription of an issued invoice never changes'); END;"""
        )


def unfreeze(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_frozen ON {TABLE}")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {TABLE}_frozen()")
    elif vendor == "sqlite":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_frozen")


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0004_seat_interval_changes'),
        ('invoices', '0008_invoice_serviced_organization'),
        ('organizations', '0007_payment_terms'),
    ]

    operations = [
        migrations.CreateModel(
            name='SubscriptionInvoice',
            fields=[
                ('invoice', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, primary_key=True, related_name='subscription_link', serialize=False, to='invoices.invoice')),
                ('reason', models.CharField(choices=[('subscription_create', 'New subscription'), ('subscription_cycle', 'Renewal'), ('seat_change', 'Seat change'), ('plan_change', 'Plan change')], max_length=32)),
                ('issued_on', models.DateField()),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='organizations.organization')),
                ('subscription', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='invoice_links', to='billing.subscription')),
            ],
            options={
                'constraints': [models.UniqueConstraint(condition=models.Q(('reason__in', ['subscription_create', 'subscription_cycle'])), fields=('subscription', 'reason', 'issued_on'), name='subscription_invoice_once_per_day_reason')],
            },
        ),
        migrations.RunPython(links_fill, migrations.RunPython.noop),
        migrations.RunPython(freeze, unfreeze),
    ]
