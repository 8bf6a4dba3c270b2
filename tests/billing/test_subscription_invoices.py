"""The link from an invoice to the subscription it was issued for (billing.SubscriptionInvoice):
written with the invoice, never changed, and a scheduled invoice issued once a day."""

import datetime as dt

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from billing.models import SubscriptionInvoice
from billing.selectors import invoice_subscription, subscription_invoices
from billing.services import invoice_issue, subscription_renew
from invoices.models import DocumentSequence, Invoice, Reason
from tests.billing.support import at, subscribed_organization
from tests.factories import InvoiceFactory, LineDraftFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

JAN_1, FEB_1 = dt.date(2026, 1, 1), dt.date(2026, 2, 1)


def test_each_invoice_of_a_subscription_is_linked_with_its_reason_and_period():
    organization, subscription, _owner = subscribed_organization(start=JAN_1, seats=2)
    subscription_renew(subscription=subscription, on=FEB_1, at=at(FEB_1))

    invoices = list(subscription_invoices(subscription=subscription).order_by("pk"))
    assert [(i.reason, i.issued_on) for i in invoices] == [
        (Reason.SUBSCRIPTION_CREATE, JAN_1),
        (Reason.SUBSCRIPTION_CYCLE, FEB_1),
    ]
    for invoice in invoices:
        link = invoice.subscription_link
        assert (link.subscription, link.organization) == (subscription, organization)
        assert (link.reason, link.issued_on) == (invoice.reason, invoice.issued_on)
        assert invoice.serviced_organization == organization
        assert invoice_subscription(invoice=invoice) == subscription


def test_an_invoice_of_no_subscription_has_no_link():
    invoice = InvoiceFactory()
    assert invoice_subscription(invoice=invoice) is None
    assert not SubscriptionInvoice.objects.filter(invoice=invoice).exists()


def test_the_database_refuses_changing_or_deleting_a_link():
    _organization, subscription, _owner = subscribed_organization(start=JAN_1)
    other = SubscriptionFactory()
    links = SubscriptionInvoice.objects.filter(subscription=subscription)
    with pytest.raises(DatabaseError, match="never changes"), transaction.atomic():
        links.update(subscription=other)
    with pytest.raises(DatabaseError, match="never changes"), transaction.atomic():
        links.update(issued_on=FEB_1)
    with pytest.raises(DatabaseError, match="never changes"), transaction.atomic():
        links.delete()
    assert links.count() == 1


def _issue(subscription, reason: str, on: dt.date) -> Invoice | None:
    return invoice_issue(
        organization=subscription.organization,
        subscription=subscription,
        reason=reason,
        lines=[LineDraftFactory(period_start=on)],
        currency="EUR",
        issued_on=on,
        at=at(on),
    )


def test_a_scheduled_invoice_is_issued_once_a_day_and_the_refused_one_leaves_nothing():
    organization, subscription, _owner = subscribed_organization(start=JAN_1)
    _issue(subscription, Reason.SUBSCRIPTION_CYCLE, FEB_1)

    with pytest.raises(IntegrityError), transaction.atomic():
        _issue(subscription, Reason.SUBSCRIPTION_CYCLE, FEB_1)

    assert subscription_invoices(subscription=subscription).filter(issued_on=FEB_1).count() == 1
    # The refused invoice took its number back with it: the next one is the third.
    assert DocumentSequence.objects.get(organization=organization).last_invoice_number == 2
    # Seat changes are not scheduled: any number of them on one day.
    _issue(subscription, Reason.SEAT_CHANGE, FEB_1)
    _issue(subscription, Reason.SEAT_CHANGE, FEB_1)
    assert subscription_invoices(subscription=subscription).filter(issued_on=FEB_1).count() == 3
