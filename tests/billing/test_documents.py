"""Issued documents never change: the database itself refuses it."""

import datetime as dt

import pytest
from django.db import DatabaseError, transaction

from invoices.models import CreditBalanceEntry, Invoice, InvoiceLine
from tests.billing.support import subscribed_organization
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def issued_invoice() -> Invoice:
    organization, _subscription, _owner = subscribed_organization(start=dt.date(2026, 1, 1))
    return Invoice.objects.get(organization=organization)


@pytest.mark.parametrize(
    "field, value", [("total_minor", 1), ("number", "X-0001"), ("issued_on", dt.date(2020, 1, 1))]
)
def test_the_database_refuses_changing_an_issued_invoice(field, value):
    invoice = issued_invoice()
    with pytest.raises(DatabaseError, match="never changes"), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(**{field: value})


def test_the_database_refuses_changing_whose_service_an_invoice_is_for():
    invoice = issued_invoice()
    assert invoice.serviced_organization == invoice.organization
    with pytest.raises(DatabaseError, match="never changes"), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(serviced_organization=OrganizationFactory())


def test_payment_status_may_change():
    invoice = issued_invoice()
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.PAID)
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"


def test_lines_and_the_balance_ledger_are_append_only_and_invoices_never_deleted():
    invoice = issued_invoice()
    with pytest.raises(DatabaseError), transaction.atomic():
        InvoiceLine.objects.filter(invoice=invoice).update(amount_minor=0)
    with pytest.raises(DatabaseError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).delete()
    entry = CreditBalanceEntry.objects.create(
        organization=invoice.organization,
        currency="EUR",
        amount_minor=100,
        kind="adjustment",
        effective_on=invoice.issued_on,
        created_at=invoice.created_at,
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        CreditBalanceEntry.objects.filter(pk=entry.pk).update(amount_minor=1_000_000)
